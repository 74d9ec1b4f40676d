using System.Runtime.InteropServices;
using System.Text;

namespace SslCluster.OpenSsl;

/// <summary>
/// ALPN on an ssl-server's context (RFC 7301): the first of the ssl-server's protocols, in its order, that the client
/// also offers. With no protocol in common the extension is left unanswered rather than refused with
/// no_application_protocol, as HAProxy and nginx do: the client goes on with its default (HTTP/1.1), and a strict
/// client can still stop. The callback runs after the ClientHello callback has switched the connection to the
/// ssl-server's context, so each ssl-server answers with its own list.
/// </summary>
internal static unsafe class Alpn
{
    private const int Ok = 0;
    private const int NoAck = 3;

    /// <summary>The protocols as bytes, checked: 1 to 255 printable ASCII characters each, no duplicates.</summary>
    public static byte[][] Encode(IReadOnlyList<string>? protocols)
    {
        if (protocols is null)
        {
            return [];
        }

        var encoded = new List<byte[]>();
        foreach (var protocol in protocols)
        {
            if (protocol.Length is 0 or > 255 || !protocol.All(c => c is > ' ' and < (char)127))
            {
                throw new ArgumentException($"'{protocol}' is not an ALPN protocol name (1 to 255 printable ASCII characters, for example http/1.1 or h2)");
            }

            var bytes = Encoding.ASCII.GetBytes(protocol);
            if (!encoded.Exists(e => e.AsSpan().SequenceEqual(bytes)))
            {
                encoded.Add(bytes);
            }
        }

        return [.. encoded];
    }

    public static void Install(IntPtr ctx) =>
        LibSsl.SSL_CTX_set_alpn_select_cb(ctx, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, byte**, byte*, byte*, uint, IntPtr, int>)&OnSelect, IntPtr.Zero);

    /// <summary>
    /// Picks the protocol in the client's list (<paramref name="offered"/>: length-prefixed names) and points
    /// <paramref name="selected"/> into that list, which OpenSSL owns and copies from when the callback returns.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int OnSelect(IntPtr ssl, byte** selected, byte* selectedLength, byte* offered, uint offeredLength, IntPtr arg)
    {
        try
        {
            var protocols = SslConnection.From(ssl)?.SelectedContext?.ApplicationProtocols;
            if (protocols is null || protocols.Length == 0)
            {
                return NoAck;
            }

            var client = new ReadOnlySpan<byte>(offered, (int)offeredLength);
            foreach (var protocol in protocols)
            {
                int at = Find(client, protocol);
                if (at >= 0)
                {
                    *selected = offered + at;
                    *selectedLength = (byte)protocol.Length;
                    return Ok;
                }
            }

            return NoAck;
        }
#pragma warning disable CA1031 // Nothing may escape into OpenSSL: the extension goes unanswered instead.
        catch (Exception)
#pragma warning restore CA1031
        {
            return NoAck;
        }
    }

    /// <summary>Where <paramref name="protocol"/>'s name starts in the length-prefixed <paramref name="list"/>, or -1.</summary>
    internal static int Find(ReadOnlySpan<byte> list, ReadOnlySpan<byte> protocol)
    {
        for (int i = 0; i < list.Length;)
        {
            int length = list[i];
            if (length == 0 || i + 1 + length > list.Length)
            {
                return -1; // malformed: OpenSSL checks the list before calling, so this is only defence
            }

            if (list.Slice(i + 1, length).SequenceEqual(protocol))
            {
                return i + 1;
            }

            i += 1 + length;
        }

        return -1;
    }
}
