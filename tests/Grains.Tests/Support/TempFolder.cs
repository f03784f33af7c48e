namespace OrleansScheduler.Grains.Tests.Support;

/// <summary>A fresh folder under the system temp directory, one per test class (a class fixture),
/// deleted with everything in it when the class is done.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "orleans-scheduler-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a leaked connection: leave the folder to the OS's temp cleanup.
        }
    }
}
