using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.Identity.ApiKeys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// Unique secrets planted where a gateway holds secrets, to grep every output for afterwards. Each is long, random
/// and recognisable, so finding one anywhere is proof of a leak.
/// </summary>
internal sealed class Canaries
{
    private readonly List<(string Name, string Value)> _all = [];

    public string New(string name)
    {
        string value = name + "-canary-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        Add(name, value);
        return value;
    }

    public void Add(string name, string value) => _all.Add((name, value));

    public IReadOnlyList<(string Name, string Value)> All => _all;

    /// <summary>Fails naming every canary found in <paramref name="text"/> (which output it was is <paramref name="where"/>).</summary>
    public void AssertNoneIn(string where, string text)
    {
        (string Name, string Value)[] found = [.. _all.Where(c => text.Contains(c.Value, StringComparison.Ordinal))];
        if (found.Length == 0)
        {
            return;
        }

        // Where the first one is, with every canary masked so the failure message itself leaks nothing.
        int at = text.IndexOf(found[0].Value, StringComparison.Ordinal);
        int lineStart = text.LastIndexOf('\n', at) + 1;
        int lineEnd = text.IndexOf('\n', at) is int end and >= 0 ? end : text.Length;
        string context = text[lineStart..Math.Min(lineEnd, lineStart + 600)];
        foreach ((string name, string value) in _all)
        {
            context = context.Replace(value, "<" + name + ">", StringComparison.Ordinal);
        }

        Assert.Fail($"{where} contains the canaries {string.Join(", ", found.Select(c => c.Name))}; first in: {context}");
    }
}

/// <summary>An API key file with keys generated for the test; the keys themselves are canaries.</summary>
internal static class TestKeys
{
    public static string Add(string file, string agent, Canaries canaries)
    {
        List<ApiKeyEntry> entries = File.Exists(file) ? [.. ApiKeyFile.Load(file).Value!] : [];
        (string id, string key) = ApiKey.Generate(id => entries.Any(e => e.Id == id));
        entries.Add(new ApiKeyEntry { Id = id, Agent = agent, Created = DateTimeOffset.UtcNow, Hash = ApiKey.Hash(key) });
        ApiKeyFile.Save(file, entries);
        canaries.Add("api key of " + agent, key);
        // mgw_<8 hex id>_<secret>: the secret may itself hold '_'.
        canaries.Add("api key secret of " + agent, key[(ApiKey.Prefix.Length + 9)..]);
        return key;
    }
}

/// <summary>A signing key whose public half is in a JWKS file the gateway reads, and the tokens it signs (canaries too).</summary>
internal sealed class TestTokenIssuer : IDisposable
{
    public const string Issuer = "https://issuer.test";

    private readonly RSA _rsa = RSA.Create(2048);

    public string WriteJwks(string file)
    {
        RSAParameters parameters = _rsa.ExportParameters(includePrivateParameters: false);
        var key = new JsonObject
        {
            ["kty"] = "RSA",
            ["kid"] = "test-key",
            ["use"] = "sig",
            ["alg"] = "RS256",
            ["n"] = Base64UrlEncoder.Encode(parameters.Modulus),
            ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
        };
        File.WriteAllText(file, new JsonObject { ["keys"] = new JsonArray(key) }.ToJsonString());
        return file;
    }

    public string Token(string subject, string audience, Canaries canaries)
    {
        string token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject)]),
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(_rsa) { KeyId = "test-key" }, SecurityAlgorithms.RsaSha256),
        });
        canaries.Add("token of " + subject, token);
        canaries.Add("token signature of " + subject, token[(token.LastIndexOf('.') + 1)..]);
        return token;
    }

    public void Dispose() => _rsa.Dispose();
}

/// <summary>
/// A remote MCP server that answers every request with HTTP 500 and a body that quotes credentials, the way some
/// proxies and frameworks echo a failed request; it records the Authorization headers it received.
/// </summary>
internal sealed class FailingDownstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FailingDownstream(WebApplication app, string body)
    {
        _app = app;
        Body = body;
    }

    public string Body { get; }

    public ConcurrentQueue<string> Authorizations { get; } = new();

    public Uri Url { get; private set; } = null!;

    /// <summary>The body: a credential line, a long filler no excerpt keeps whole, and a marker at the very end.</summary>
    public static string ErrorBody(string credential) =>
        $"upstream exploded\nAuthorization: Bearer {credential}\nrequest dump: {string.Concat(Enumerable.Repeat("lorem ipsum dolor sit amet ", 200))}\nEND-OF-REMOTE-BODY";

    public static async Task<FailingDownstream> StartAsync(string body, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        var downstream = new FailingDownstream(app, body);
        app.Run(async context =>
        {
            downstream.Authorizations.Enqueue(context.Request.Headers.Authorization.ToString());
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync(body, context.RequestAborted);
        });
        await app.StartAsync(cancellationToken);
        downstream.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/mcp");
        return downstream;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// Records every response body an HTTP client receives (event streams included, as they are read), so a test can
/// search all of them at the end.
/// </summary>
internal sealed class RecordingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly ConcurrentQueue<MemoryStream> _bodies = new();

    public string Text
    {
        get
        {
            var text = new StringBuilder();
            foreach (MemoryStream body in _bodies)
            {
                lock (body)
                {
                    text.Append(Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length)).Append('\n');
                }
            }

            return text.ToString();
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
        var copy = new MemoryStream();
        _bodies.Enqueue(copy);
        var content = new StreamContent(new TeeStream(await response.Content.ReadAsStreamAsync(cancellationToken), copy));
        foreach ((string name, IEnumerable<string> values) in response.Content.Headers)
        {
            content.Headers.TryAddWithoutValidation(name, values);
        }

        response.Content = content;
        return response;
    }

    private sealed class TeeStream(Stream inner, MemoryStream copy) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Keep(buffer.AsSpan(offset, inner.Read(buffer, offset, count)));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await inner.ReadAsync(buffer, cancellationToken);
            return Keep(buffer.Span[..read]);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Keep(ReadOnlySpan<byte> read)
        {
            lock (copy)
            {
                copy.Write(read);
            }

            return read.Length;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
