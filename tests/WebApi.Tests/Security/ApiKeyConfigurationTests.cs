using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansScheduler.WebApi.Security;

namespace OrleansScheduler.WebApi.Tests.Security;

/// <summary>Keys from either form of configuration, bound by the real configuration binder; bad
/// entries stop the start with a message that names the entry, never the key.</summary>
public sealed class ApiKeyConfigurationTests
{
    private const string KeyOne = "first-key-5e0c2a9b7d3f41e68a1c";
    private const string KeyTwo = "second:key:with:colons-77aa";

    [Fact]
    public void The_appsettings_list_and_the_one_string_form_give_the_same_keys()
    {
        var list = Keys(new Dictionary<string, string?>
        {
            ["Api:Keys:0:Key"] = KeyOne,
            ["Api:Keys:0:Role"] = "operate",
            ["Api:Keys:1:Key"] = KeyTwo,
            ["Api:Keys:1:Role"] = "Read",
        });
        var text = Keys(new Dictionary<string, string?> { ["Api:KeyList"] = $" {KeyOne}:operate , {KeyTwo}:read " });
        foreach (var keys in new[] { list, text })
        {
            Assert.True(keys.Enabled);
            Assert.Equal(new ApiKey("api-key-1", "operate"), keys.Find(KeyOne));
            Assert.Equal(new ApiKey("api-key-2", "read"), keys.Find(KeyTwo));
            Assert.Null(keys.Find(KeyOne + "x"));
            Assert.Null(keys.Find(KeyOne[..^1]));
            Assert.Null(keys.Find(""));
        }
    }

    [Fact]
    public void The_one_string_form_replaces_the_list()
    {
        var keys = Keys(new Dictionary<string, string?>
        {
            ["Api:Keys:0:Key"] = KeyOne,
            ["Api:Keys:0:Role"] = "operate",
            ["Api:KeyList"] = $"{KeyTwo}:operate",
        });
        Assert.Null(keys.Find(KeyOne));
        Assert.NotNull(keys.Find(KeyTwo));
    }

    [Fact]
    public void No_keys_means_open()
    {
        Assert.False(Keys(new Dictionary<string, string?>()).Enabled);
        Assert.False(Keys(new Dictionary<string, string?> { ["Api:KeyList"] = " " }).Enabled);
    }

    [Theory]
    [InlineData("secret-value-1234", "Entry 1 of API_KEYS (Api:KeyList) has no role")]
    [InlineData("secret-value-1234:admin", "Entry 1 of API_KEYS (Api:KeyList) has an unknown role")]
    [InlineData("ok-key-000000000000:read,secret-value-1234:", "Entry 2 of API_KEYS (Api:KeyList) has no role")]
    [InlineData(":operate", "Entry 1 of API_KEYS (Api:KeyList) has no key")]
    [InlineData("secret-value-1234:operate,secret-value-1234:read", "Entries 1 and 2 of API_KEYS (Api:KeyList) are the same key")]
    [InlineData("secret-välue-1234:operate", "The key of entry 1 of API_KEYS (Api:KeyList) holds")]
    public void A_bad_entry_is_refused_without_showing_the_key(string list, string message)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Keys(new Dictionary<string, string?> { ["Api:KeyList"] = list }));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    private static ApiKeys Keys(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddOptions<ApiKeyOptions>().Bind(configuration.GetSection("Api"));
        using var provider = services.BuildServiceProvider();
        return new ApiKeys(provider.GetRequiredService<IOptions<ApiKeyOptions>>());
    }
}
