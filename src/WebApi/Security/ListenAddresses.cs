using System.Net;

namespace OrleansScheduler.WebApi.Security;

/// <summary>The addresses the server is configured to listen on, read from the same settings Kestrel
/// reads: <c>urls</c> (ASPNETCORE_URLS, --urls, or the http://127.0.0.1:PORT default that
/// <see cref="SchedulerUrlsExtensions.UseSchedulerUrls"/> sets) and <c>Kestrel:Endpoints:*:Url</c>,
/// which wins over urls when present (both are checked).</summary>
public sealed class ListenAddresses
{
    private ListenAddresses(IReadOnlyList<string> urls, IReadOnlyList<string> exposed)
    {
        Urls = urls;
        Exposed = exposed;
    }

    public IReadOnlyList<string> Urls { get; }

    /// <summary>The URLs that listen beyond this machine.</summary>
    public IReadOnlyList<string> Exposed { get; }

    public bool LoopbackOnly => Exposed.Count == 0;

    public static ListenAddresses From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var urls = (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren()
            .Select(endpoint => endpoint["Url"])
            .Where(url => !string.IsNullOrWhiteSpace(url))
            .Select(url => url!.Trim()));
        return new ListenAddresses(urls, [.. urls.Where(url => !IsLoopback(url))]);
    }

    /// <summary>127.0.0.0/8, ::1, "localhost" and Unix sockets stay on this machine. 0.0.0.0, [::],
    /// * and + bind every interface; a LAN address or a host name other than localhost is reachable
    /// from elsewhere (Kestrel binds a host name it cannot parse to every interface).</summary>
    public static bool IsLoopback(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        BindingAddress address;
        try
        {
            address = BindingAddress.Parse(url);
        }
        catch (FormatException)
        {
            return false; // Kestrel will refuse it too; never count what cannot be read as safe.
        }

        if (address.IsUnixPipe || address.IsNamedPipe)
        {
            return true;
        }

        var host = address.Host.Trim('[', ']');
        return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }
}
