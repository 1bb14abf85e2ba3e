using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using McpGateway.Configuration;

namespace McpGateway.Identity.Sessions;

/// <summary>Why a session id was not accepted. Both are answered like an unknown session.</summary>
internal enum TokenRefusal
{
    None,

    /// <summary>Not a session id of this gateway: malformed, tampered with, or sealed with a key it no longer has.</summary>
    Unreadable,

    /// <summary>Older than <c>sessions.maxAgeSeconds</c>.</summary>
    Expired,
}

/// <summary>
/// Seals session tickets into the Mcp-Session-Id that clients see, and opens them again on any replica with the same
/// keys: AES-256-GCM, so an id can be neither read nor altered nor made up without a key. The first configured key
/// seals, every configured key opens (rotation: add the new key first, keep the old one second until the sessions it
/// sealed are past their maximum age). Without configured keys, a random key of this process seals and opens: a
/// single replica works as before, and its sessions cannot move to another.
/// </summary>
/// <remarks>
/// Layout, base64url without padding: format version (1 byte) | key id (1 byte) | nonce (12) | ciphertext | tag (16).
/// The version and key id are authenticated data. The key id is the first byte of a hash of the key: it tells which
/// key to try (on a 1-in-256 clash, both are tried), and says nothing about the key.
/// </remarks>
internal sealed class SessionTokens
{
    private const byte FormatVersion = 1;
    private const int HeaderSize = 2;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int MaxTokenLength = 8192;

    private readonly TimeProvider _time;
    private readonly SessionKey _processKey = new(RandomNumberGenerator.GetBytes(SessionKey.Length));
    private volatile Ring _ring;

    public SessionTokens(SessionSettings settings, TimeProvider time)
    {
        _time = time;
        _ring = Ring.Of(settings, _processKey);
    }

    /// <summary>True when the keys come from the settings (replicas with the same settings share sessions).</summary>
    public bool KeysConfigured => _ring.Configured;

    public TimeSpan MaxAge => _ring.MaxAge;

    /// <summary>New settings (a reload): new sessions are sealed with the new first key; the keys no longer listed stop opening.</summary>
    public void Apply(SessionSettings settings) => _ring = Ring.Of(settings, _processKey);

    /// <summary>When a ticket's session id stops being accepted.</summary>
    public DateTimeOffset ExpiresAt(SessionTicket ticket) => ticket.IssuedAt + _ring.MaxAge;

    /// <summary>The session id a client gets for this ticket.</summary>
    public string Issue(SessionTicket ticket)
    {
        Ring ring = _ring;
        byte[] plaintext = Serialize(ticket);
        byte[] sealedBytes = new byte[HeaderSize + NonceSize + plaintext.Length + TagSize];
        sealedBytes[0] = FormatVersion;
        sealedBytes[1] = ring.Sealing.Id;
        Span<byte> nonce = sealedBytes.AsSpan(HeaderSize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(ring.Sealing.Key.Bytes, TagSize))
        {
            aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(HeaderSize + NonceSize, plaintext.Length), sealedBytes.AsSpan(sealedBytes.Length - TagSize), sealedBytes.AsSpan(0, HeaderSize));
        }

        CryptographicOperations.ZeroMemory(plaintext);
        return Base64Url.EncodeToString(sealedBytes);
    }

    /// <summary>Opens a session id; the ticket only when it is one of this gateway's and has not expired.</summary>
    public TokenRefusal Open(string token, out SessionTicket? ticket)
    {
        ticket = null;
        Ring ring = _ring;
        if (token.Length is 0 or > MaxTokenLength)
        {
            return TokenRefusal.Unreadable;
        }

        byte[] sealedBytes = new byte[Base64Url.GetMaxDecodedLength(token.Length)];
        int length;
        try
        {
            if (!Base64Url.TryDecodeFromChars(token, sealedBytes, out length))
            {
                return TokenRefusal.Unreadable;
            }
        }
        catch (FormatException)
        {
            return TokenRefusal.Unreadable;
        }

        if (length < HeaderSize + NonceSize + TagSize || sealedBytes[0] != FormatVersion || !IsCanonical(token, sealedBytes.AsSpan(0, length)))
        {
            return TokenRefusal.Unreadable;
        }

        ReadOnlySpan<byte> all = sealedBytes.AsSpan(0, length);
        ReadOnlySpan<byte> ciphertext = all[(HeaderSize + NonceSize)..^TagSize];
        byte[] plaintext = new byte[ciphertext.Length];
        foreach (RingKey candidate in ring.Opening)
        {
            if (candidate.Id != all[1])
            {
                continue;
            }

            try
            {
                using var aes = new AesGcm(candidate.Key.Bytes, TagSize);
                aes.Decrypt(all.Slice(HeaderSize, NonceSize), ciphertext, all[^TagSize..], plaintext, all[..HeaderSize]);
            }
            catch (AuthenticationTagMismatchException)
            {
                continue;
            }

            ticket = Deserialize(plaintext);
            if (ticket is null)
            {
                return TokenRefusal.Unreadable;
            }

            if (_time.GetUtcNow() >= ticket.IssuedAt + ring.MaxAge)
            {
                ticket = null;
                return TokenRefusal.Expired;
            }

            return TokenRefusal.None;
        }

        return TokenRefusal.Unreadable;
    }

    /// <summary>Base64 leaves spare bits in the last character: only the one spelling this gateway writes is its id.</summary>
    private static bool IsCanonical(string token, ReadOnlySpan<byte> bytes)
    {
        int length = Base64Url.GetEncodedLength(bytes.Length);
        Span<char> canonical = length <= 1024 ? stackalloc char[length] : new char[length];
        return Base64Url.TryEncodeToChars(bytes, canonical, out int written) && canonical[..written].SequenceEqual(token);
    }

    private static byte[] Serialize(SessionTicket ticket)
    {
        using var buffer = new MemoryStream(ticket.Initialize.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("s"u8, ticket.SessionId);
            if (ticket.Agent is { } agent)
            {
                writer.WriteString("a"u8, agent);
            }

            if (ticket.Owner is { } owner)
            {
                writer.WriteString("o"u8, owner);
            }

            writer.WriteNumber("t"u8, ticket.IssuedAt.ToUnixTimeSeconds());
            writer.WritePropertyName("i"u8);
            writer.WriteRawValue(ticket.Initialize.Span, skipInputValidation: false);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static SessionTicket? Deserialize(byte[] plaintext)
    {
        try
        {
            var reader = new Utf8JsonReader(plaintext);
            string? sessionId = null, agent = null, owner = null;
            long? issued = null;
            ReadOnlyMemory<byte> initialize = default;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                switch (name)
                {
                    case "s":
                        sessionId = reader.GetString();
                        break;
                    case "a":
                        agent = reader.GetString();
                        break;
                    case "o":
                        owner = reader.GetString();
                        break;
                    case "t":
                        issued = reader.GetInt64();
                        break;
                    case "i":
                        int start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        initialize = plaintext.AsMemory(start, (int)reader.BytesConsumed - start);
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            return sessionId is { Length: > 0 } && issued is long seconds && !initialize.IsEmpty
                ? new SessionTicket(sessionId, agent, owner, initialize, DateTimeOffset.FromUnixTimeSeconds(seconds))
                : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private readonly record struct RingKey(byte Id, SessionKey Key)
    {
        private static readonly byte[] s_idContext = Encoding.ASCII.GetBytes("mcp-gateway session key id\n");

        public static RingKey Of(SessionKey key)
        {
            byte[] input = [.. s_idContext, .. key.Bytes];
            byte id = SHA256.HashData(input)[0];
            CryptographicOperations.ZeroMemory(input);
            return new RingKey(id, key);
        }
    }

    private sealed record Ring(RingKey Sealing, RingKey[] Opening, bool Configured, TimeSpan MaxAge)
    {
        public static Ring Of(SessionSettings settings, SessionKey processKey)
        {
            RingKey[] keys = settings.Keys.Count > 0 ? [.. settings.Keys.Select(RingKey.Of)] : [RingKey.Of(processKey)];
            return new Ring(keys[0], keys, settings.Keys.Count > 0, settings.MaxAge);
        }
    }
}
