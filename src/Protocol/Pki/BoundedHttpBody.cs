namespace SslCluster.Protocol.Pki;

/// <summary>
/// Reads a response body of at most a given size, whatever the server claims or sends: a CRL, an OCSP response. The
/// caller names the exception a larger body raises.
/// </summary>
internal static class BoundedHttpBody
{
    /// <summary>
    /// The body of <paramref name="response"/>; <paramref name="tooLarge"/> (given the declared length, or null when the
    /// bytes themselves ran over) is thrown for a body over <paramref name="maxBytes"/>.
    /// </summary>
    public static async Task<byte[]> ReadAsync(HttpResponseMessage response, int maxBytes, Func<long?, Exception> tooLarge, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > maxBytes)
        {
            throw tooLarge(response.Content.Headers.ContentLength);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var body = new MemoryStream();
        var chunk = new byte[Math.Min(maxBytes, 64 * 1024)];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (body.Length + n > maxBytes)
            {
                throw tooLarge(null);
            }

            body.Write(chunk, 0, n);
        }

        return body.ToArray();
    }
}
