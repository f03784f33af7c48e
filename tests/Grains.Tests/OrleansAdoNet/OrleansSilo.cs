using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using OrleansScheduler.Testing;
using Xunit.Abstractions;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>One real Orleans silo in this process: a generic host with UseOrleans, listening on
/// loopback ports of its own, configured by the test (clustering, reminders, storage). Silos of
/// one test share a ClusterId and ServiceId and so form one cluster through whatever membership
/// the test configured.</summary>
public sealed class OrleansSilo : IAsyncDisposable
{
    private readonly IHost _host;
    private bool _stopped;

    private OrleansSilo(string name, IHost host)
    {
        Name = name;
        _host = host;
    }

    public string Name { get; }

    public IServiceProvider Services => _host.Services;

    public SiloAddress Address => Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;

    /// <summary>Orleans' grain factory (this project has an IGrainFactory of its own).</summary>
    public Orleans.IGrainFactory Grains => Services.GetRequiredService<Orleans.IGrainFactory>();

    public static async Task<OrleansSilo> StartAsync(
        string name,
        OrleansCluster cluster,
        ITestOutputHelper output,
        Action<ISiloBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, name));
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
            silo.Configure<SiloOptions>(o => o.SiloName = name);
            silo.ConfigureEndpoints(IPAddress.Loopback, FreePort(), FreePort(), listenOnAnyHostAddress: false);
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                // Heartbeats every second (the default is 30 s), so a test sees IAmAliveTime move.
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(1);
                // Patient probes: CI runs other test assemblies beside these silos on two cores,
                // and a starved silo must not be voted dead. These tests stop silos gracefully.
                o.ProbeTimeout = TimeSpan.FromSeconds(15);
            });
            configure(silo);
        });
        var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await host.StartAsync(timeout.Token);
        return new OrleansSilo(name, host);
    }

    /// <summary>A graceful stop: the silo says goodbye in the membership table and shuts down.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _host.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _host.Dispose();
        }
    }

    /// <summary>A port nobody listens on right now: the OS picks it for a listener on port 0.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }
}

/// <summary>The identity shared by the silos of one test.</summary>
public sealed record OrleansCluster(string ClusterId, string ServiceId)
{
    /// <summary>A new cluster: ids no other test uses, so rows of one test never count in another.</summary>
    public static OrleansCluster New(string what)
    {
        var unique = Guid.NewGuid().ToString("N")[..8];
        return new($"{what}-{unique}", $"svc-{what}-{unique}");
    }
}
