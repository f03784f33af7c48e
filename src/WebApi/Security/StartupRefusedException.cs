namespace OrleansScheduler.WebApi.Security;

/// <summary>The configuration is unsafe to run with (a listener beyond loopback without API keys):
/// the program logs <see cref="Exception.Message"/>, which says what to set, and exits with code 1
/// rather than with an unhandled exception's abort and stack trace.</summary>
public sealed class StartupRefusedException(string message) : Exception(message);
