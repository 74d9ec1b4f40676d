using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SslCluster.OpenSsl;

/// <summary>
/// The libssl functions we call, declared as OpenSSL 3.0 exports them (checked against Debian's 3.0 headers). Many of
/// OpenSSL's documented "functions" are macros over <c>SSL_CTX_ctrl</c>/<c>SSL_ctrl</c>; their numbers are in
/// <see cref="Ctrl"/>. Pointers are <see cref="IntPtr"/>: ownership lives in the SafeHandles and the classes that use
/// these, never here. Calls that cannot call back into managed code and do little work carry
/// <see cref="SuppressGCTransitionAttribute"/>; anything that may run a callback (handshake, read, write, shutdown)
/// must not.
/// </summary>
internal static unsafe partial class LibSsl
{
    private const string Lib = "libssl.so.3";

    internal static class Ctrl
    {
        public const int ExtraChainCert = 14;
        public const int Mode = 33;
        public const int SetSessCacheSize = 42;
        public const int SetSessCacheMode = 44;
        public const int SetTlsextServernameCb = 53;
        public const int SetTlsextHostname = 55;
        public const int SetTlsextStatusReqCb = 63;
        public const int SetTlsextStatusReqOcspResp = 71;
        public const int SetTlsextTicketKeyCb = 72;
        public const int ChainCert = 89;
        public const int SetGroupsList = 92;
        public const int SetMinProtoVersion = 123;
        public const int SetMaxProtoVersion = 124;
    }

    public const ulong OpNoCompression = 1UL << 17;
    public const ulong OpCipherServerPreference = 1UL << 22;
    public const ulong OpNoRenegotiation = 1UL << 30;
    public const ulong OpNoTicket = 1UL << 14;

    public const long ModeEnablePartialWrite = 0x1;
    public const long ModeAcceptMovingWriteBuffer = 0x2;
    public const long ModeReleaseBuffers = 0x10;

    public const long SessCacheOff = 0x0;
    public const long SessCacheClient = 0x1;
    public const long SessCacheServer = 0x2;
    public const long SessCacheNoInternal = 0x300;

    public const int ErrorNone = 0;
    public const int ErrorSsl = 1;
    public const int ErrorWantRead = 2;
    public const int ErrorWantWrite = 3;
    public const int ErrorSyscall = 5;
    public const int ErrorZeroReturn = 6;

    public const int VerifyPeer = 0x01;
    public const int VerifyFailIfNoPeerCert = 0x02;
    public const int VerifyClientOnce = 0x04;

    public const int CallbackHandshakeStart = 0x10;
    public const int CallbackWriteAlert = 0x4008;

    public const int SentShutdown = 1;
    public const int ReceivedShutdown = 2;

    public const int ClientHelloSuccess = 1;
    public const int ClientHelloError = 0;
    public const uint ExtensionServerName = 0;

    public const int TlsextErrOk = 0;
    public const int TlsextErrAlertFatal = 2;
    public const int TlsextNameTypeHostName = 0;

    [LibraryImport(Lib)]
    public static partial IntPtr TLS_server_method();

    [LibraryImport(Lib)]
    public static partial IntPtr TLS_client_method();

    [LibraryImport(Lib)]
    public static partial IntPtr SSL_CTX_new(IntPtr method);

    [LibraryImport(Lib)]
    public static partial void SSL_CTX_free(IntPtr ctx);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_up_ref(IntPtr ctx);

    [LibraryImport(Lib)]
    public static partial nint SSL_CTX_ctrl(IntPtr ctx, int cmd, nint larg, IntPtr parg);

    [LibraryImport(Lib)]
    public static partial nint SSL_CTX_callback_ctrl(IntPtr ctx, int cmd, IntPtr fp);

    [LibraryImport(Lib)]
    public static partial ulong SSL_CTX_set_options(IntPtr ctx, ulong options);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_set_cipher_list(IntPtr ctx, byte* ciphers);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_set_ciphersuites(IntPtr ctx, byte* suites);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_use_certificate(IntPtr ctx, IntPtr x509);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_use_PrivateKey(IntPtr ctx, IntPtr pkey);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_check_private_key(IntPtr ctx);

    [LibraryImport(Lib)]
    public static partial void SSL_CTX_set_client_hello_cb(IntPtr ctx, IntPtr callback, IntPtr arg);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_client_hello_get0_ext(IntPtr ssl, uint type, out byte* data, out nuint length);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_set_tlsext_ticket_key_evp_cb(IntPtr ctx, IntPtr callback);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_set_session_ticket_cb(IntPtr ctx, IntPtr generate, IntPtr decrypt, IntPtr arg);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr SSL_get_session(IntPtr ssl);

    [LibraryImport(Lib)]
    public static partial int SSL_set_session(IntPtr ssl, IntPtr session);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_use_PrivateKey_ASN1(int type, IntPtr ctx, byte* der, nint length);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial nint SSL_SESSION_set_timeout(IntPtr session, nint seconds);

    [LibraryImport(Lib)]
    public static partial void SSL_CTX_set_cert_verify_callback(IntPtr ctx, IntPtr callback, IntPtr arg);

    [LibraryImport(Lib)]
    public static partial void SSL_CTX_set_alpn_select_cb(IntPtr ctx, IntPtr callback, IntPtr arg);

    [LibraryImport(Lib)]
    public static partial int SSL_set_alpn_protos(IntPtr ssl, byte* protocols, uint length);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr SSL_get_certificate(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr SSL_CTX_get0_certificate(IntPtr ctx);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void SSL_get0_alpn_selected(IntPtr ssl, byte** data, uint* length);

    [LibraryImport(Lib)]
    public static partial void SSL_CTX_set_client_CA_list(IntPtr ctx, IntPtr names);

    [LibraryImport(Lib)]
    public static partial void SSL_set_verify(IntPtr ssl, int mode, IntPtr callback);

    [LibraryImport(Lib)]
    public static partial int SSL_get_ex_data_X509_STORE_CTX_idx();

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr SSL_SESSION_get0_peer(IntPtr session);

    [LibraryImport(Lib)]
    public static partial void SSL_CTX_sess_set_new_cb(IntPtr ctx, IntPtr callback);

    [LibraryImport(Lib)]
    public static partial void SSL_CTX_sess_set_get_cb(IntPtr ctx, IntPtr callback);

    [LibraryImport(Lib)]
    public static partial nint SSL_CTX_set_timeout(IntPtr ctx, nint seconds);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_SESSION_get_protocol_version(IntPtr session);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial byte* SSL_SESSION_get_id(IntPtr session, out uint length);

    [LibraryImport(Lib)]
    public static partial int i2d_SSL_SESSION(IntPtr session, ref byte* output);

    [LibraryImport(Lib)]
    public static partial IntPtr d2i_SSL_SESSION(IntPtr existing, ref byte* input, nint length);

    [LibraryImport(Lib)]
    public static partial void SSL_SESSION_free(IntPtr session);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_set_num_tickets(IntPtr ctx, nuint count);

    [LibraryImport(Lib)]
    public static partial int SSL_CTX_set_session_id_context(IntPtr ctx, byte* sidCtx, uint length);

    [LibraryImport(Lib)]
    public static partial IntPtr SSL_new(IntPtr ctx);

    [LibraryImport(Lib)]
    public static partial void SSL_free(IntPtr ssl);

    [LibraryImport(Lib)]
    public static partial void SSL_set_bio(IntPtr ssl, IntPtr rbio, IntPtr wbio);

    /// <summary>Replaces the read BIO; the SSL frees the one it had and owns this one.</summary>
    [LibraryImport(Lib)]
    public static partial void SSL_set0_rbio(IntPtr ssl, IntPtr rbio);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void SSL_set_accept_state(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void SSL_set_connect_state(IntPtr ssl);

    [LibraryImport(Lib)]
    public static partial int SSL_do_handshake(IntPtr ssl);

    [LibraryImport(Lib)]
    public static partial int SSL_read_ex(IntPtr ssl, byte* buffer, nuint count, out nuint read);

    [LibraryImport(Lib)]
    public static partial int SSL_write_ex(IntPtr ssl, byte* buffer, nuint count, out nuint written);

    [LibraryImport(Lib)]
    public static partial int SSL_shutdown(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_get_shutdown(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_get_error(IntPtr ssl, int ret);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_pending(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_is_init_finished(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void SSL_set_info_callback(IntPtr ssl, IntPtr callback);

    [LibraryImport(Lib)]
    public static partial IntPtr SSL_set_SSL_CTX(IntPtr ssl, IntPtr ctx);

    [LibraryImport(Lib)]
    public static partial int SSL_set_cipher_list(IntPtr ssl, byte* ciphers);

    [LibraryImport(Lib)]
    public static partial int SSL_set_ciphersuites(IntPtr ssl, byte* suites);

    /// <summary>The cipher list a new SSL_CTX starts with (static, NUL-terminated).</summary>
    [LibraryImport(Lib)]
    public static partial byte* OSSL_default_cipher_list();

    /// <summary>The TLS 1.3 suites a new SSL_CTX starts with (static, NUL-terminated).</summary>
    [LibraryImport(Lib)]
    public static partial byte* OSSL_default_ciphersuites();

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr SSL_get_servername(IntPtr ssl, int type);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_version(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr SSL_get_current_cipher(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial ushort SSL_CIPHER_get_protocol_id(IntPtr cipher);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_session_reused(IntPtr ssl);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int SSL_set_ex_data(IntPtr ssl, int index, IntPtr data);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr SSL_get_ex_data(IntPtr ssl, int index);

    [LibraryImport(Lib)]
    public static partial nint SSL_ctrl(IntPtr ssl, int cmd, nint larg, IntPtr parg);
}

/// <summary>The libcrypto functions we call (OpenSSL 3.0); see <see cref="LibSsl"/> for the conventions.</summary>
internal static unsafe partial class LibCrypto
{
    [LibraryImport(Lib)]
    public static partial IntPtr CRYPTO_malloc(nuint length, byte* file, int line);

    [LibraryImport(Lib)]
    public static partial void CRYPTO_free(IntPtr pointer, byte* file, int line);

    private const string Lib = "libcrypto.so.3";

    public const int ExIndexSsl = 0;

    [LibraryImport(Lib)]
    public static partial nuint OpenSSL_version_num();

    [LibraryImport(Lib)]
    public static partial IntPtr OpenSSL_version(int type);

    [LibraryImport(Lib)]
    public static partial int CRYPTO_get_ex_new_index(int classIndex, nint argl, IntPtr argp, IntPtr newFunc, IntPtr dupFunc, IntPtr freeFunc);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void ERR_clear_error();

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial nuint ERR_get_error();

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial nuint ERR_peek_error();

    [LibraryImport(Lib)]
    public static partial void ERR_error_string_n(nuint error, byte* buffer, nuint length);

    [LibraryImport(Lib)]
    public static partial IntPtr BIO_s_mem();

    [LibraryImport(Lib)]
    public static partial IntPtr BIO_new(IntPtr method);

    [LibraryImport(Lib)]
    public static partial int BIO_free(IntPtr bio);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int BIO_write(IntPtr bio, byte* data, int length);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial nuint BIO_ctrl_pending(IntPtr bio);

    /// <summary>BIO_TYPE_SOURCE_SINK: a BIO at the end of a chain (ours, <see cref="OutputBio"/>).</summary>
    public const int BioTypeSourceSink = 0x0400;

    public const int BioCtrlFlush = 11;
    public const int BioCtrlWPending = 13;

    [LibraryImport(Lib)]
    public static partial int BIO_get_new_index();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr BIO_meth_new(int type, string name);

    [LibraryImport(Lib)]
    public static partial void BIO_meth_free(IntPtr method);

    [LibraryImport(Lib)]
    public static partial int BIO_meth_set_write_ex(IntPtr method, IntPtr write);

    [LibraryImport(Lib)]
    public static partial int BIO_meth_set_ctrl(IntPtr method, IntPtr control);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void BIO_set_data(IntPtr bio, IntPtr data);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr BIO_get_data(IntPtr bio);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void BIO_set_init(IntPtr bio, int init);

    /// <summary>BIO_get_mem_ptr: the BUF_MEM of a memory BIO (its "max" field is what it holds allocated).</summary>
    public const int BioGetBufMemPtr = 115;

    [LibraryImport(Lib)]
    public static partial nint BIO_ctrl(IntPtr bio, int command, nint larg, IntPtr* parg);

    [LibraryImport(Lib)]
    public static partial IntPtr EVP_CIPHER_fetch(IntPtr libraryContext, byte* algorithm, byte* properties);

    [LibraryImport(Lib)]
    public static partial int EVP_EncryptInit_ex(IntPtr ctx, IntPtr cipher, IntPtr engine, byte* key, byte* iv);

    [LibraryImport(Lib)]
    public static partial int EVP_DecryptInit_ex(IntPtr ctx, IntPtr cipher, IntPtr engine, byte* key, byte* iv);

    [LibraryImport(Lib)]
    public static partial int EVP_MAC_CTX_set_params(IntPtr ctx, OsslParam* parameters);

    [LibraryImport(Lib)]
    public static partial int RAND_bytes(byte* buffer, int count);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr X509_STORE_CTX_get_ex_data(IntPtr store, int index);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr X509_STORE_CTX_get0_untrusted(IntPtr store);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr X509_get0_pubkey(IntPtr x509);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int EVP_PKEY_get_base_id(IntPtr pkey);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial void X509_STORE_CTX_set_error(IntPtr store, int error);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial int OPENSSL_sk_num(IntPtr stack);

    [LibraryImport(Lib)]
    [SuppressGCTransition]
    public static partial IntPtr OPENSSL_sk_value(IntPtr stack, int index);

    [LibraryImport(Lib)]
    public static partial IntPtr OPENSSL_sk_new_null();

    [LibraryImport(Lib)]
    public static partial int OPENSSL_sk_push(IntPtr stack, IntPtr item);

    [LibraryImport(Lib)]
    public static partial void OPENSSL_sk_free(IntPtr stack);

    [LibraryImport(Lib)]
    public static partial IntPtr d2i_X509_NAME(IntPtr existing, ref byte* input, nint length);

    [LibraryImport(Lib)]
    public static partial void X509_NAME_free(IntPtr name);

    [LibraryImport(Lib)]
    public static partial int i2d_X509(IntPtr x509, ref byte* output);

    [LibraryImport(Lib)]
    public static partial IntPtr d2i_X509(IntPtr existing, ref byte* input, nint length);

    [LibraryImport(Lib)]
    public static partial void X509_free(IntPtr x509);

    [LibraryImport(Lib)]
    public static partial IntPtr d2i_AutoPrivateKey(IntPtr existing, ref byte* input, nint length);

    [LibraryImport(Lib)]
    public static partial void EVP_PKEY_free(IntPtr pkey);
}

/// <summary>OpenSSL 3's <c>OSSL_PARAM</c> (core.h): 40 bytes on 64-bit.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OsslParam
{
    public const uint Utf8String = 4;
    public const uint OctetString = 5;

    public byte* Key;
    public uint DataType;
    public void* Data;
    public nuint DataSize;
    public nuint ReturnSize;
}
