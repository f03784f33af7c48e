namespace OrleansScheduler.WebApi.Security;

/// <summary>API keys and the submission rate limit, bound from the "Api" section (issue 10).</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Submissions per second per key (per client address without keys) when
    /// <see cref="SubmitsPerSecond"/> is not set and the server listens beyond loopback. About a
    /// tenth of what one process accepts (docs/performance.md: ~10,000 single POSTs/s), so one
    /// runaway client cannot take the whole server while a normal one never meets the limit.</summary>
    public const int DefaultSubmitsPerSecond = 1000;

    /// <summary>Keys as a list: <c>"Keys": [{"Key": "...", "Role": "operate"}]</c>.</summary>
    public List<ApiKeyEntry> Keys { get; set; } = [];

    /// <summary>Keys as one string, <c>key1:operate,key2:read</c> (the environment's API_KEYS).
    /// When set it is used instead of <see cref="Keys"/>.</summary>
    public string? KeyList { get; set; }

    /// <summary>RATE_LIMIT_SUBMITS_PER_SECOND: 0 turns the limit off; unset means off on loopback
    /// and <see cref="DefaultSubmitsPerSecond"/> otherwise.</summary>
    public int? SubmitsPerSecond { get; set; }
}

/// <summary>One configured key and what it may do.</summary>
public sealed class ApiKeyEntry
{
    public string? Key { get; set; }

    /// <summary><c>operate</c> (submit, cancel, retry and read) or <c>read</c>.</summary>
    public string? Role { get; set; }
}
