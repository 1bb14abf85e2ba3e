namespace McpGateway.Configuration;

/// <summary>Finds the program a stdio server's <c>command</c> names, as starting it would: a path, or the first executable match on PATH.</summary>
public static class CommandLocator
{
    /// <summary>The file <paramref name="command"/> names, or null when there is none.</summary>
    /// <param name="workingDirectory">What a relative path is relative to (the server's <c>cwd</c>, else the gateway's).</param>
    /// <param name="path">The PATH the server gets; null means the gateway's.</param>
    public static string? Resolve(string command, string? workingDirectory, string? path)
    {
        if (command.Length == 0)
        {
            return null;
        }

        if (command.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(command))
        {
            string full = Path.GetFullPath(command, string.IsNullOrEmpty(workingDirectory) ? Environment.CurrentDirectory : workingDirectory);
            return File.Exists(full) ? full : null;
        }

        foreach (string folder in (path ?? Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, command);
            if (File.Exists(candidate) && IsExecutable(candidate))
            {
                return candidate;
            }

            if (OperatingSystem.IsWindows() && File.Exists(candidate + ".exe"))
            {
                return candidate + ".exe";
            }
        }

        return null;
    }

    private static bool IsExecutable(string file) =>
        OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
