using System.CommandLine;
using System.CommandLine.Parsing;

namespace McpGateway.Hosting;

/// <summary>
/// An option whose value is one of a few words: matched without regard to case, and a wrong word is answered with
/// the words it may be, never with the name of a .NET type.
/// </summary>
internal static class CliChoices
{
    public static Option<T> Create<T>(string name, string description, T defaultValue, params (string Word, T Value)[] choices)
    {
        string words = string.Join(", ", choices.Select(c => c.Word));
        return new Option<T>(name)
        {
            Description = $"{description} One of: {words}.",
            HelpName = string.Join("|", choices.Select(c => c.Word)),
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                string token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
                foreach ((string word, T value) in choices)
                {
                    if (string.Equals(word, token, StringComparison.OrdinalIgnoreCase))
                    {
                        return value;
                    }
                }

                string? closest = Configuration.JsonNodeReader.Closest(token, choices.Select(c => c.Word));
                result.AddError($"{name} '{token}' is not one of: {words}." + (closest is null ? string.Empty : $" Did you mean '{closest}'?"));
                return defaultValue;
            },
        };
    }
}
