using McpGateway.Policy;

namespace McpGateway.Tests.Policy;

public sealed class GlobTests
{
    [Theory]
    [InlineData("*", "", true)]
    [InlineData("*", "anything", true)]
    [InlineData("*_query", "read_query", true)]
    [InlineData("*_query", "query", false)]
    [InlineData("delete_*", "delete_user", true)]
    [InlineData("delete_*", "Delete_user", false)]
    [InlineData("get_?ser", "get_user", true)]
    [InlineData("get_?ser", "get_ser", false)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("exact", "exact", true)]
    [InlineData("exact", "exactly", false)]
    public void IsMatch_FollowsGlobSemantics(string pattern, string text, bool expected) =>
        Assert.Equal(expected, Glob.IsMatch(pattern, text));
}
