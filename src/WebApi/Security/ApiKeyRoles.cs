namespace OrleansScheduler.WebApi.Security;

/// <summary>The two roles a key can have, and the authorization policies built on them.</summary>
public static class ApiKeyRoles
{
    public const string Operate = "operate";
    public const string Read = "read";

    /// <summary>Reads: any valid key.</summary>
    public const string ReadPolicy = "scheduler.read";

    /// <summary>Mutations (POST, PUT, PATCH, DELETE): a key with the operate role.</summary>
    public const string OperatePolicy = "scheduler.operate";
}
