using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansScheduler.WebApi.Requests;

/// <summary>Reads an RFC 3339 date-time, and nothing else: DateTimeOffset.TryParse is lenient and
/// follows the culture, so "01/02/2030" and "10:00" used to be taken as times (issue 12).
/// "2026-01-09T10:00:00Z", "2026-01-09T10:00:00.250+02:00"; the date and the time are joined by 'T'
/// (RFC 3339 allows 't'), any number of fractional digits (read to the tick, 100 ns). Seed 003 sends
/// a time without an offset ("2026-01-09T10:00:00"); that is taken as UTC.</summary>
public static partial class Rfc3339
{
    public const string Example = "2026-01-09T10:00:00Z";

    public static bool TryParse(string? text, out DateTimeOffset time)
    {
        time = default;
        var match = text is null ? null : Pattern().Match(text);
        if (match is null || !match.Success)
        {
            return false;
        }

        int Part(string name) => int.Parse(match.Groups[name].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        var (year, month, day) = (Part("year"), Part("month"), Part("day"));
        var (hour, minute, second) = (Part("hour"), Part("minute"), Part("second"));
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false; // Also a leap second (:60), which DateTimeOffset cannot hold.
        }

        var ticks = 0L;
        if (match.Groups["fraction"].Success)
        {
            var digits = match.Groups["fraction"].Value;
            ticks = long.Parse(digits.Length > 7 ? digits[..7] : digits.PadRight(7, '0'), NumberStyles.None, CultureInfo.InvariantCulture);
        }

        var offset = TimeSpan.Zero;
        if (match.Groups["offsetHour"].Success)
        {
            var (offsetHour, offsetMinute) = (Part("offsetHour"), Part("offsetMinute"));
            if (offsetHour > 23 || offsetMinute > 59)
            {
                return false;
            }

            offset = new TimeSpan(offsetHour, offsetMinute, 0);
            if (match.Groups["sign"].ValueSpan[0] == '-')
            {
                offset = -offset;
            }
        }

        // RFC 3339 allows offsets up to ±23:59 and DateTimeOffset only ±14:00, so the time is turned
        // into UTC here; a result outside years 1 to 9999 is no time this API can hold.
        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).Ticks + ticks;
        var utc = local - offset.Ticks;
        if (utc < DateTime.MinValue.Ticks || utc > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        time = new DateTimeOffset(utc, TimeSpan.Zero);
        return true;
    }

    [GeneratedRegex(
        @"^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})[Tt](?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2})(\.(?<fraction>\d+))?([Zz]|(?<sign>[+-])(?<offsetHour>\d{2}):(?<offsetMinute>\d{2}))?$",
        RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
