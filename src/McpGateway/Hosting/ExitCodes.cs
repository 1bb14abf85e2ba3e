namespace McpGateway.Hosting;

/// <summary>Process exit codes, documented in the README.</summary>
public static class ExitCodes
{
    /// <summary>Done; for <c>check</c>, the single decision asked for is "allowed".</summary>
    public const int Success = 0;

    /// <summary>
    /// The configuration (files, environment variables and flags together) is invalid or cannot be served as given
    /// (listening beyond loopback without authentication, say), a file could not be written, or the port is taken.
    /// </summary>
    public const int InvalidConfiguration = 1;

    /// <summary>The command line could not be parsed (an unknown command or option, a missing or malformed argument).</summary>
    public const int Usage = 2;

    /// <summary><c>check --server</c> or <c>check --tool</c>: the decision is "denied".</summary>
    public const int Denied = 3;

    /// <summary>An unexpected failure inside the gateway (a bug: please report it).</summary>
    public const int InternalError = 4;

    /// <summary><c>status</c> or <c>reload</c>: the gateway could not be reached, or refused the request.</summary>
    public const int Unreachable = 5;
}
