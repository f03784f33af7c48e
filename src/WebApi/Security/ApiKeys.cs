using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace OrleansScheduler.WebApi.Security;

/// <summary>The configured keys, kept only as SHA-256 hashes. A presented key is hashed and compared
/// with every stored hash in constant time (equal lengths, <see cref="CryptographicOperations.FixedTimeEquals"/>,
/// no early exit), so neither the time of an answer nor an error message tells anything about a
/// key. Keys never appear in messages: entries are named by their position.</summary>
public sealed class ApiKeys
{
    /// <summary>Keys shorter than this are accepted with a warning at start-up.</summary>
    public const int RecommendedMinimumLength = 16;

    private readonly Entry[] _entries;

    public ApiKeys(IOptions<ApiKeyOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _entries = Parse(options.Value);
    }

    /// <summary>Whether any key is configured; without keys the API is open (on loopback only).</summary>
    public bool Enabled => _entries.Length > 0;

    public int Count => _entries.Length;

    /// <summary>The roles of the configured keys, in order, for the start-up summary.</summary>
    public IEnumerable<string> Roles => _entries.Select(e => e.Role);

    /// <summary>Positions (1-based) of keys shorter than <see cref="RecommendedMinimumLength"/>.</summary>
    public IReadOnlyList<int> ShortKeys { get; private set; } = [];

    /// <summary>The key that <paramref name="presented"/> is, or null.</summary>
    public ApiKey? Find(string presented)
    {
        ArgumentNullException.ThrowIfNull(presented);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        ApiKey? found = null;
        foreach (var entry in _entries)
        {
            if (CryptographicOperations.FixedTimeEquals(entry.Hash, hash))
            {
                found ??= entry.Key;
            }
        }

        return found;
    }

    private Entry[] Parse(ApiKeyOptions options)
    {
        var (source, raw) = string.IsNullOrWhiteSpace(options.KeyList)
            ? ("Api:Keys", options.Keys.Select(k => (k.Key, k.Role)).ToList())
            : ("API_KEYS (Api:KeyList)", options.KeyList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(SplitPair).ToList());
        var entries = new List<Entry>();
        var shortKeys = new List<int>();
        for (var i = 0; i < raw.Count; i++)
        {
            var (key, role) = raw[i];
            var position = i + 1;
            if (string.IsNullOrEmpty(key))
            {
                throw new InvalidOperationException($"Entry {position} of {source} has no key.");
            }

            // A header carries visible ASCII; a key with anything else could never be sent.
            if (key.Any(c => c is < '!' or > '~'))
            {
                throw new InvalidOperationException($"The key of entry {position} of {source} holds a space, a control character or a non-ASCII character; keys are visible ASCII (e.g. openssl rand -hex 32).");
            }

            var normalizedRole = role?.Trim().ToLowerInvariant() switch
            {
                ApiKeyRoles.Operate => ApiKeyRoles.Operate,
                ApiKeyRoles.Read => ApiKeyRoles.Read,
                null or "" => throw new InvalidOperationException($"Entry {position} of {source} has no role; write <key>:{ApiKeyRoles.Operate} or <key>:{ApiKeyRoles.Read}."),
                _ => throw new InvalidOperationException($"Entry {position} of {source} has an unknown role (not repeated here, in case it is part of a key); the roles are '{ApiKeyRoles.Operate}' (submit, cancel, retry and read) and '{ApiKeyRoles.Read}'."),
            };
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
            var earlier = entries.FindIndex(e => CryptographicOperations.FixedTimeEquals(e.Hash, hash));
            if (earlier >= 0)
            {
                throw new InvalidOperationException($"Entries {earlier + 1} and {position} of {source} are the same key; give each key once.");
            }

            if (key.Length < RecommendedMinimumLength)
            {
                shortKeys.Add(position);
            }

            entries.Add(new Entry(hash, normalizedRole, new ApiKey($"api-key-{position}", normalizedRole)));
        }

        ShortKeys = shortKeys;
        return [.. entries];
    }

    /// <summary>"key:role"; the role follows the last colon, so a key may hold colons.</summary>
    private static (string? Key, string? Role) SplitPair(string pair)
    {
        var colon = pair.LastIndexOf(':');
        return colon < 0 ? (pair, null) : (pair[..colon], pair[(colon + 1)..]);
    }

    private sealed record Entry(byte[] Hash, string Role, ApiKey Key);
}

/// <summary>A recognised key: its name (<c>api-key-N</c>, its position in the configuration; never
/// the key itself) and its role.</summary>
public sealed record ApiKey(string Id, string Role);
