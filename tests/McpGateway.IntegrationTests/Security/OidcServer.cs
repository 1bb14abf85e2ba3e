using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Security;

/// <summary>A client of the authorization server: what it authenticates with and the scopes it may ask for.</summary>
internal sealed record OidcClient(string ClientId, string Secret, string Scope);

/// <summary>
/// A real OAuth 2.1 authorization server (oidc-provider from npm, tests/fixtures/auth/oidc-server.mjs) in a child
/// process on 127.0.0.1: started with the given clients and resources, ready when it prints its issuer, asked for
/// client-credentials tokens over HTTP like any client would, told to rotate its keys with SIGUSR2. Disposing closes
/// its stdin (it exits on that) and kills what is left.
/// </summary>
internal sealed class OidcServer : IAsyncDisposable
{
    private const string ReadyPrefix = "oidc-provider ready on ";
    private const string RotatedPrefix = "oidc-provider rotated keys: ";

    private readonly Process _process;
    private readonly HashSet<string> _rotations = [];
    private string? _tokenEndpoint;

    private OidcServer(Process process) => _process = process;

    public static string Script => Path.Combine(RepoPaths.Root, "tests", "fixtures", "auth", "oidc-server.mjs");

    /// <summary>The issuer as the server spells it (no trailing slash), which is also the base of every endpoint.</summary>
    public string Issuer { get; private set; } = null!;

    public LineLog Stdout { get; } = new();

    public LineLog Stderr { get; } = new();

    public static async Task<OidcServer> StartAsync(IReadOnlyList<OidcClient> clients, IReadOnlyList<string> resources, CancellationToken cancellationToken, int ttlSeconds = 300)
    {
        RepoPaths.RequireNodeModules();
        var startInfo = new ProcessStartInfo("node")
        {
            WorkingDirectory = Path.GetDirectoryName(Script)!,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        var clientsJson = new JsonArray([.. clients.Select(c => (JsonNode)new JsonObject { ["client_id"] = c.ClientId, ["client_secret"] = c.Secret, ["scope"] = c.Scope })]);
        string[] arguments = [Script, "--port", "0", "--clients", clientsJson.ToJsonString(), "--ttl", ttlSeconds.ToString(CultureInfo.InvariantCulture), .. resources.SelectMany(r => (string[])["--resource", r])];
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var server = new OidcServer(process);
        process.OutputDataReceived += (_, e) => server.Stdout.Add(e.Data);
        process.ErrorDataReceived += (_, e) => server.Stderr.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            string ready = await server.WaitForLineAsync(l => l.StartsWith(ReadyPrefix, StringComparison.Ordinal), "its ready line", cancellationToken);
            server.Issuer = ready[ReadyPrefix.Length..].Trim();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>A client-credentials token (client_secret_basic) for <paramref name="resource"/>; the whole token response.</summary>
    /// <param name="resource">The RFC 8707 resource indicator; null asks without one (the provider then issues an opaque token).</param>
    public async Task<JsonObject> TokenResponseAsync(OidcClient client, string? resource, string? scope, CancellationToken cancellationToken)
    {
        _tokenEndpoint ??= (await DiscoveryAsync(cancellationToken))["token_endpoint"]!.GetValue<string>();
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
        if (resource is not null)
        {
            form.Add(new("resource", resource));
        }

        if (scope is not null)
        {
            form.Add(new("scope", scope));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, _tokenEndpoint) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.EscapeDataString(client.ClientId) + ":" + Uri.EscapeDataString(client.Secret))));
        using HttpResponseMessage response = await SecurityTestKit.Http.SendAsync(request, cancellationToken);
        string body = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"The token endpoint answered {(int)response.StatusCode}: {body}");
        return (JsonObject)JsonNode.Parse(body)!;
    }

    public async Task<string> TokenAsync(OidcClient client, string? resource, string? scope, CancellationToken cancellationToken) =>
        (await TokenResponseAsync(client, resource, scope, cancellationToken))["access_token"]!.GetValue<string>();

    public async Task<JsonObject> DiscoveryAsync(CancellationToken cancellationToken) =>
        await GetJsonAsync(new Uri(Issuer + "/.well-known/openid-configuration"), cancellationToken);

    /// <summary>The public signing keys the server publishes (what the gateway fetches through discovery).</summary>
    public async Task<JsonObject> JwksAsync(CancellationToken cancellationToken) =>
        await GetJsonAsync(new Uri((await DiscoveryAsync(cancellationToken))["jwks_uri"]!.GetValue<string>()), cancellationToken);

    /// <summary>Sends SIGUSR2 and waits for the line that names the new keys; returns their key ids.</summary>
    public async Task<string[]> RotateKeysAsync(CancellationToken cancellationToken)
    {
        // Each rotation prints its own key ids: the line to wait for is one not seen before the signal.
        _rotations.UnionWith(Stdout.Lines.Where(l => l.StartsWith(RotatedPrefix, StringComparison.Ordinal)));

        using (Process kill = Process.Start(new ProcessStartInfo("kill", ["-USR2", _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync(cancellationToken);
            Assert.Equal(0, kill.ExitCode);
        }

        string line = await WaitForLineAsync(l => l.StartsWith(RotatedPrefix, StringComparison.Ordinal) && !_rotations.Contains(l), "the rotated-keys line", cancellationToken);
        return line[RotatedPrefix.Length..].Trim().Split(',');
    }

    private static async Task<JsonObject> GetJsonAsync(Uri uri, CancellationToken cancellationToken)
    {
        string body = await SecurityTestKit.Http.GetStringAsync(uri, cancellationToken);
        return (JsonObject)JsonNode.Parse(body)!;
    }

    private async Task<string> WaitForLineAsync(Func<string, bool> predicate, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await Stdout.WaitForAsync(predicate, $"{what} from oidc-server.mjs", cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            // Its stdout ended: the server exited.
            throw new InvalidOperationException($"oidc-server.mjs exited (waiting for {what}).{Environment.NewLine}stdout:{Environment.NewLine}{Stdout}{Environment.NewLine}stderr:{Environment.NewLine}{Stderr}", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // It stops when its stdin closes; the kill is for a server that does not.
                _process.StandardInput.Close();
                using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(exited.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or never started.
        }

        _process.Dispose();
    }
}
