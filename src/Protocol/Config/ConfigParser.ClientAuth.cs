namespace SslCluster.Protocol.Config;

public static partial class ConfigParser
{
    private sealed partial class Session
    {
        // ------------------------------------------------------------------ client authentication

        private static readonly string[] FailureWords = ["reject", "ignore", "redirect", "ignore-revoked"];

        /// <summary><c>ssl-server N authentication|cacert|crl|failure|failure-url ...</c>.</summary>
        private static ClientAuthSettings ClientAuthLine(ClientAuthSettings auth, string option, string[] args, IReadOnlyList<string> w, int n) => option switch
        {
            "authentication" => auth with
            {
                Enabled = One(args, w, $"ssl-server {n} authentication enable|disable").ToLowerInvariant() switch
                {
                    "enable" => true,
                    "disable" => false,
                    var e => throw new LineException(args[0], "write 'enable' or 'disable'" + Suggest.DidYouMean(e, ["enable", "disable"])),
                },
            },
            "cacert" => AddCaCert(auth, Name(One(args, w, $"ssl-server {n} cacert NAME"), "certificate association")),
            "crl" => auth with { Crl = Name(One(args, w, $"ssl-server {n} crl NAME"), "CRL record") },
            "failure" => auth with
            {
                Failure = One(args, w, $"ssl-server {n} failure reject|ignore|redirect|ignore-revoked").ToLowerInvariant() switch
                {
                    "reject" => ClientAuthFailureAction.Reject,
                    "ignore" => ClientAuthFailureAction.Ignore,
                    "redirect" => ClientAuthFailureAction.Redirect,
                    "ignore-revoked" => ClientAuthFailureAction.IgnoreRevoked,
                    var f => throw new LineException(args[0], "unknown failure action" + Suggest.DidYouMean(f, FailureWords) + " (actions: reject, ignore, redirect, ignore-revoked)"),
                },
            },
            "revocation-check" => auth with { Revocation = RevocationOrder(args, w, $"ssl-server {n} revocation-check") },
            "log-auth-failures" => args.Length == 0 ? auth with { LogFailures = true } : throw new LineException(args[0], $"unexpected word; write 'ssl-server {n} log-auth-failures'"),
            "client-ocsp-url" => auth with { OcspUrl = Url(One(args, w, $"ssl-server {n} client-ocsp-url \"URL\""), httpsToo: false) },
            _ => auth with { FailureUrl = Url(One(args, w, $"ssl-server {n} failure-url \"URL\""), httpsToo: true) },
        };

        private static readonly string[] RevocationWords = ["ocsp", "crl", "none"];

        /// <summary><c>revocation-check METHOD [METHOD [METHOD]]</c>: each method once, <c>none</c> last.</summary>
        private static ValueList<RevocationMethod> RevocationOrder(string[] args, IReadOnlyList<string> w, string command)
        {
            if (args.Length == 0) throw new LineException(w[^1], $"incomplete command; write '{command} ocsp|crl|none ...', for example 'revocation-check ocsp crl'");
            var order = ValueList<RevocationMethod>.Empty;
            foreach (var word in args)
            {
                var method = word.ToLowerInvariant() switch
                {
                    "ocsp" => RevocationMethod.Ocsp,
                    "crl" => RevocationMethod.Crl,
                    "none" => RevocationMethod.None,
                    var other => throw new LineException(word, $"'{word}' is not a revocation method{Suggest.DidYouMean(other, RevocationWords)} (methods: ocsp, crl, none)"),
                };
                if (order.Contains(method)) throw new LineException(word, $"'{word}' is named twice; each method is tried once");
                if (order.Contains(RevocationMethod.None)) throw new LineException(word, "'none' accepts the certificate, so nothing after it is ever tried; put 'none' last");
                order = order.Add(method);
            }
            return order;
        }

        private static ClientAuthSettings AddCaCert(ClientAuthSettings auth, string name) =>
            auth.CaCerts.Contains(name) ? auth : auth with { CaCerts = auth.CaCerts.Add(name) };

        /// <summary><c>no ssl-server N authentication|cacert NAME|crl|failure|failure-url|revocation-check|client-ocsp-url</c>: back to the default.</summary>
        private static ClientAuthSettings ClientAuthNo(SslServer s, string option, IReadOnlyList<string> w)
        {
            var auth = s.ClientAuth;
            if (option == "cacert")
            {
                if (w.Count != 5) throw new LineException(w[^1], $"write 'no ssl-server {s.Number} cacert NAME'");
                if (!auth.CaCerts.Contains(w[4]))
                    throw new LineException(w[4], $"ssl-server {s.Number} has no cacert '{w[4]}'" + Suggest.DidYouMean(w[4], auth.CaCerts));
                return auth with { CaCerts = auth.CaCerts.Remove(w[4]) };
            }
            Arity(w, 4, 4, $"no ssl-server {s.Number} {option}");
            var fresh = ClientAuthSettings.Default;
            return option switch
            {
                "authentication" => auth with { Enabled = fresh.Enabled },
                "crl" => auth with { Crl = null },
                "failure" => auth with { Failure = fresh.Failure },
                "revocation-check" => auth with { Revocation = fresh.Revocation },
                "log-auth-failures" => auth with { LogFailures = false },
                "client-ocsp-url" => auth with { OcspUrl = null },
                _ => auth with { FailureUrl = null },
            };
        }

        /// <summary><c>crl-record NAME "URL" SIGNCERT [HOURS]</c> in ssl-proxy-list mode; a new line replaces the record.</summary>
        private void CrlRecordLine(IReadOnlyList<string> w)
        {
            const string usage = "crl-record NAME \"URL\" SIGNCERT [HOURS]";
            Arity(w, 4, 5, usage);
            var name = Name(w[1], "CRL record");
            var record = new CrlRecord(
                name,
                Url(w[2], httpsToo: false),
                Name(w[3], "certificate association"),
                w.Count == 5 ? Number(w[4], 0, CrlRecord.MaxRefreshHours, "CRL refresh period (hours; 0 follows the list's nextUpdate)") : 0);
            SetList(List with { CrlRecords = List.CrlRecords.SetItem(name, record) });
        }

        /// <summary>
        /// An absolute URL. A CRL or an OCSP response is fetched over plain HTTP only (both are signed, so they need no
        /// TLS, and fetching them over TLS would need a trust decision of its own); a failure-url may be http or https.
        /// </summary>
        private static string Url(string word, bool httpsToo)
        {
            var schemes = httpsToo ? "http:// or https://" : "http://";
            if (!Uri.TryCreate(word, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host) ||
                !(uri.Scheme == Uri.UriSchemeHttp || (httpsToo && uri.Scheme == Uri.UriSchemeHttps)) ||
                word.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '"'))
                throw new LineException(word, $"not a usable URL; write an absolute {schemes} URL in quotes, such as \"{(httpsToo ? "https://www.example.com/no-certificate.html" : "http://ca.example.com/ca.crl")}\"");
            return word;
        }
    }
}
