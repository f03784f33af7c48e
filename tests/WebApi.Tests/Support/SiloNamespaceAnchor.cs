namespace OrleansScheduler.Silo.Hosting;

/// <summary>Keeps <c>using OrleansScheduler.Silo.Hosting;</c> compiling while the Silo assembly is
/// referenced under an alias (Support/SiloAlias.cs brings its types in). Delete both files once the
/// Silo's Program is no longer public.</summary>
internal static class SiloNamespaceAnchor;
