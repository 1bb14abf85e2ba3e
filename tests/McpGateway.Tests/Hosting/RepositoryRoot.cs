namespace McpGateway.Tests.Hosting;

/// <summary>The folder holding McpGateway.slnx, found by walking up from the test binaries.</summary>
internal static class RepositoryRoot
{
    private static readonly Lazy<string> s_path = new(Find);

    public static string Path => s_path.Value;

    private static string Find()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "McpGateway.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no McpGateway.slnx above {AppContext.BaseDirectory}");
    }
}
