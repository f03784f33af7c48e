using System.Globalization;
using System.Threading.Channels;

namespace OrleansScheduler.Worker;

/// <summary>One readable line per event on stdout, stamped with the UTC time. Lines go through a
/// channel to one writer that flushes whenever it has caught up, so a worker completing thousands
/// of tasks a second (the bench) does not pay a write system call per line, and a test reading the
/// output still sees each line at once.</summary>
internal sealed class WorkerLog
{
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TextWriter _output;
    private readonly Task _writer;

    public WorkerLog(TextWriter output)
    {
        _output = output;
        _writer = Task.Run(WriteAsync);
    }

    public void Line(string message) =>
        _lines.Writer.TryWrite($"{DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)} {message}");

    /// <summary>Writes what is queued and stops; later lines are dropped.</summary>
    public async Task CloseAsync()
    {
        _lines.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private async Task WriteAsync()
    {
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var line))
            {
                await _output.WriteLineAsync(line).ConfigureAwait(false);
            }

            await _output.FlushAsync().ConfigureAwait(false);
        }
    }
}
