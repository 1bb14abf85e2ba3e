using System.Text;

namespace McpGateway.Configuration;

/// <summary>Maps JSON paths of a parsed file to 1-based line and column numbers, so every diagnostic can point at its place.</summary>
internal sealed class JsonPositionMap
{
    private readonly byte[] _utf8;
    private readonly int _bomLength;
    private readonly List<int> _lineStarts = [0];
    private readonly Dictionary<string, int> _offsets = new(StringComparer.Ordinal);

    public JsonPositionMap(byte[] utf8)
    {
        _utf8 = utf8;
        _bomLength = utf8.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\n')
            {
                _lineStarts.Add(i + 1);
            }
        }
    }

    public static JsonPositionMap Empty { get; } = new([]);

    public void Record(string path, long byteOffset) => _offsets.TryAdd(path, (int)byteOffset);

    /// <summary>Finds the position of <paramref name="path"/>, or of its nearest recorded ancestor (for a missing property).</summary>
    public (int Line, int Column)? Find(string path)
    {
        string? current = path;
        while (current is not null)
        {
            if (_offsets.TryGetValue(current, out int offset))
            {
                return ToLineColumn(offset);
            }

            current = Parent(current);
        }

        return null;
    }

    public (int Line, int Column) ToLineColumn(int byteOffset)
    {
        int index = _lineStarts.BinarySearch(byteOffset);
        int line = index >= 0 ? index : ~index - 1;
        // Editors do not count a byte order mark as a column.
        int start = line == 0 ? _bomLength : _lineStarts[line];
        int column = Encoding.UTF8.GetCharCount(_utf8, start, Math.Max(0, byteOffset - start)) + 1;
        return (line + 1, column);
    }

    /// <summary>
    /// Converts a <see cref="System.Text.Json.Utf8JsonReader"/> position (0-based line, bytes into the line, byte order
    /// mark excluded) to a 1-based line and a column in characters, like every other position this map gives.
    /// </summary>
    public (int Line, int Column) ToLineColumn(long line, long bytePositionInLine)
    {
        int index = (int)Math.Clamp(line, 0, _lineStarts.Count - 1);
        int start = index == 0 ? _bomLength : _lineStarts[index];
        return ToLineColumn((int)Math.Min(start + bytePositionInLine, _utf8.Length));
    }

    private static string? Parent(string path)
    {
        if (path.Length <= 1)
        {
            return null;
        }

        // Strip the last segment: ".name", "[3]" or ["odd key"].
        if (path[^1] == ']')
        {
            int bracket = path.LastIndexOf('[');
            if (path.EndsWith("\"]", StringComparison.Ordinal))
            {
                bracket = path.LastIndexOf("[\"", path.Length - 3, StringComparison.Ordinal);
            }

            return bracket > 0 ? path[..bracket] : null;
        }

        int dot = path.LastIndexOf('.');
        return dot > 0 ? path[..dot] : null;
    }
}
