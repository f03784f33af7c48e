using System.Net.Http.Headers;
using System.Text;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>One generated request, as bytes on the wire: the target is sent as written (already
/// percent-encoded), the body byte for byte, so it can hold what no JSON writer would produce.</summary>
public sealed record HttpCase(string Method, string Target, string? ContentType = null, byte[]? Body = null, string? Note = null)
{
    /// <summary>The path without the query string.</summary>
    public string Path => Target.Split('?', 2)[0];

    public string Query => Target.Contains('?', StringComparison.Ordinal) ? Target.Split('?', 2)[1] : "";

    public HttpRequestMessage ToRequest()
    {
        var request = new HttpRequestMessage(new HttpMethod(Method), new Uri(Target, UriKind.Relative));
        if (Body is not null)
        {
            request.Content = new ByteArrayContent(Body);
            if (ContentType is not null)
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(ContentType);
            }
        }

        return request;
    }

    /// <summary>The request as a reader wants it in a failure: bytes that are not printable ASCII as
    /// \xNN, and a long body cut in the middle.</summary>
    public override string ToString()
    {
        var text = new StringBuilder(Note is null ? "" : $"[{Note}]\n");
        text.Append($"{Method} {(Target.Length > 3000 ? Target[..3000] + "..." : Target)}");
        if (ContentType is not null)
        {
            text.Append($"\nContent-Type: {ContentType}");
        }

        if (Body is not null)
        {
            text.Append($"\n({Body.Length:N0} bytes) ");
            const int Shown = 1500;
            var shown = Body.Length <= Shown * 2 ? Body : [.. Body.AsSpan(0, Shown), .. "<<...>>"u8, .. Body.AsSpan(Body.Length - Shown)];
            foreach (var b in shown)
            {
                text.Append(b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:X2}");
            }
        }

        return text.ToString();
    }
}
