using System.Text;

namespace SslCluster.TestSupport;

/// <summary>Reading HTTP/1.x answers off a keep-alive connection, as a client does.</summary>
public static class HttpAnswer
{
    /// <summary>Reads one response with a Content-Length body (head and body, as Latin-1 text); throws if the stream ends before its head does.</summary>
    public static async Task<string> ReadAsync(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var text = new StringBuilder();
        var one = new byte[1];
        while (!text.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("closed before the head ended: " + text);
            text.Append((char)one[0]);
        }
        var length = int.Parse(text.ToString().Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
        var body = new byte[length];
        await stream.ReadExactlyAsync(body);
        return text + Encoding.Latin1.GetString(body);
    }
}
