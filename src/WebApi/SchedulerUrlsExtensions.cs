namespace OrleansScheduler.WebApi;

public static class SchedulerUrlsExtensions
{
    /// <summary>Listens on http://127.0.0.1:PORT (default 8000) unless URLs are configured
    /// explicitly (ASPNETCORE_URLS, --urls).</summary>
    public static IWebHostBuilder UseSchedulerUrls(this IWebHostBuilder webHost, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(webHost);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!string.IsNullOrWhiteSpace(configuration["urls"]))
        {
            return webHost;
        }

        var port = configuration["PORT"];
        if (port is not null && (!int.TryParse(port, out var number) || number is < 1 or > 65535))
        {
            throw new InvalidOperationException($"PORT must be a port number from 1 to 65535, not '{port}'.");
        }

        return webHost.UseUrls($"http://127.0.0.1:{port ?? ApiOptions.DefaultPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
    }
}
