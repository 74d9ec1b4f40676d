using System.Text;

namespace SslCluster.Protocol.Net;

/// <summary>
/// The <c>failure redirect</c> action of client authentication: the handshake completed, but the client's
/// certificate did not pass, so its first HTTP request is answered here with <c>302 Found</c> to the ssl-server's
/// failure-url and the connection closes. Nothing is read beyond the request head, nothing reaches a backend.
/// </summary>
internal static class ClientAuthRedirect
{
    /// <summary>Most of a request head we read before answering anyway; the answer does not depend on the request.</summary>
    internal const int MaxRequestHead = 16 * 1024;

    /// <summary>The exact answer for <paramref name="url"/> (validated by the configuration: no spaces or control characters).</summary>
    internal static byte[] Response(string url) => Encoding.ASCII.GetBytes(
        "HTTP/1.1 302 Found\r\n" +
        $"Location: {url}\r\n" +
        "Content-Length: 0\r\n" +
        "Cache-Control: no-store\r\n" +
        "Connection: close\r\n\r\n");

    /// <summary>
    /// Waits (up to <paramref name="timeout"/>) for the end of the client's request head, answers with the redirect,
    /// then sends close_notify and FIN. A client that sends nothing in time, or more than
    /// <see cref="MaxRequestHead"/> bytes of head, gets the same answer.
    /// </summary>
    public static async Task<(ProxyError Error, string Message)> AnswerAsync(IRelayFrontEnd front, string url,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        byte[] buffer = SocketIo.Rent();
        try
        {
            bool requestRead = await ReadRequestHeadAsync(front, buffer, deadline.Token, cancellationToken);
            if (!requestRead && front.InputEnded)
            {
                await front.CloseWriteAsync(cancellationToken);
                return (ProxyError.None, "client authentication failed (failure redirect); the client closed before sending a request");
            }

            byte[] answer = Response(url);
            answer.CopyTo(buffer, 0);
            await front.WriteAsync(buffer, answer.Length, cancellationToken);
            await front.CloseWriteAsync(cancellationToken);
            return (ProxyError.None, "client authentication failed (failure redirect); answered 302 Found to " + url);
        }
        catch (RelayException e)
        {
            return (e.Error, e.Message);
        }
        finally
        {
            SocketIo.Return(buffer);
        }
    }

    /// <summary>True once a blank line ended the head; false at EOF, timeout or the size limit.</summary>
    private static async Task<bool> ReadRequestHeadAsync(IRelayFrontEnd front, byte[] buffer, CancellationToken token,
        CancellationToken abort)
    {
        // The last four bytes seen, across reads: "\r\n\r\n" (or a bare "\n\n") ends the head.
        uint last = 0;
        int total = 0;
        try
        {
            // Bounded by the deadline and by MaxRequestHead bytes.
            while (total < MaxRequestHead && !front.InputEnded)
            {
                await front.WaitReadableAsync(token);
                var read = await front.ReadAsync(buffer, buffer.Length, token);
                if (read.End)
                {
                    return false;
                }

                for (int i = 0; i < read.Count; i++)
                {
                    last = (last << 8) | buffer[i];
                    if (last == 0x0D0A0D0A || (last & 0xFFFF) == 0x0A0A)
                    {
                        return true;
                    }
                }

                total += read.Count;
            }
        }
        catch (OperationCanceledException) when (!abort.IsCancellationRequested)
        {
            // The client is slow or silent: it gets the redirect without having asked.
        }

        return false;
    }
}
