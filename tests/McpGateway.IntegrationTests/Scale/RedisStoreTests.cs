using System.Text;
using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Gateway;
using Microsoft.Extensions.Time.Testing;

namespace McpGateway.IntegrationTests.Scale;

/// <summary>
/// The shared store against a real redis-server, replica by replica (no gateway): rate windows that every replica
/// counts in, session slots that a dead replica stops holding after their lease (on a fake clock), session state
/// that another replica reads, and what each does while Redis is down and once it is back. Windows are an hour
/// long, so none turns over during a test.
/// </summary>
public sealed class RedisStoreTests
{
    private static readonly TimeSpan s_hour = TimeSpan.FromHours(1);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly SessionLimitSettings s_total3 = new() { Total = 3, PerAgent = 100, PerClientAddress = 100 };

    [Fact]
    public async Task RateWindow_CountsTheTakesOfEveryReplica_ThenRefusesOnEach()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            SharedWindow[] window = [new("calls", 3)];

            SharedTake?[] takes = [await a.Windows.TryTakeAsync(window, s_hour), await b.Windows.TryTakeAsync(window, s_hour), await a.Windows.TryTakeAsync(window, s_hour)];
            SharedTake? overOnA = await a.Windows.TryTakeAsync(window, s_hour);
            SharedTake? overOnB = await b.Windows.TryTakeAsync(window, s_hour);

            Assert.All(takes, t => Assert.True(t!.Value.Taken));
            foreach (SharedTake? over in (SharedTake?[])[overOnA, overOnB])
            {
                Assert.Equal(0, over!.Value.RefusedBy);
                Assert.InRange(over.Value.RetryAfter, TimeSpan.FromTicks(1), s_hour);
            }
        }
    }

    [Fact]
    public async Task RateWindows_TakeFromAllOrNone_AndSayWhichOneRefused()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        await using RedisReplica a = await RedisReplica.StartAsync(server, RedisReplica.NewPrefix(), new FakeTimeProvider(), Ct);
        SharedWindow tool = new("tool", 1), agent = new("agent", 3);

        SharedTake? first = await a.Windows.TryTakeAsync([tool, agent], s_hour);
        SharedTake? toolSpent = await a.Windows.TryTakeAsync([tool, agent], s_hour);
        SharedTake? agentOnly1 = await a.Windows.TryTakeAsync([agent], s_hour);
        SharedTake? agentOnly2 = await a.Windows.TryTakeAsync([agent], s_hour);
        SharedTake? agentSpent = await a.Windows.TryTakeAsync([new("other-tool", 5), agent], s_hour);

        Assert.True(first!.Value.Taken);
        Assert.Equal(0, toolSpent!.Value.RefusedBy);
        Assert.True(agentOnly1!.Value.Taken);
        Assert.True(agentOnly2!.Value.Taken);
        Assert.Equal(1, agentSpent!.Value.RefusedBy);

        // The refused take spent nothing of the other window: "other-tool" is still whole.
        Assert.True((await a.Windows.TryTakeAsync([new("other-tool", 1)], s_hour))!.Value.Taken);
    }

    [Fact]
    public async Task RateWindows_WhileRedisIsDown_AnswerNothing_WarnOnce_AndAreSharedAgainWhenItIsBack()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            SharedWindow[] window = [new("calls", 2)];
            Assert.True((await a.Windows.TryTakeAsync(window, s_hour))!.Value.Taken);

            await server.KillAsync();
            await a.WaitUntilAvailableAsync(false, Ct);
            await b.WaitUntilAvailableAsync(false, Ct);
            SharedTake?[] duringOutage = [.. await Task.WhenAll(Enumerable.Range(0, 5).Select(i => (i % 2 == 0 ? a : b).Windows.TryTakeAsync(window, s_hour).AsTask()))];

            await server.RestartAsync(Ct);
            await a.WaitUntilAvailableAsync(true, Ct);
            await b.WaitUntilAvailableAsync(true, Ct);
            SharedTake? againOnA = await a.Windows.TryTakeAsync(window, s_hour);
            SharedTake? againOnB = await b.Windows.TryTakeAsync(window, s_hour);
            SharedTake? overOnA = await a.Windows.TryTakeAsync(window, s_hour);

            Assert.All(duringOutage, t => Assert.Null(t));
            Assert.Equal(1, a.OutageWarnings);
            Assert.Equal(1, b.OutageWarnings);
            Assert.Contains(a.Logs.Lines, l => l.StartsWith("Information McpGateway.Scale.RedisConnection:", StringComparison.Ordinal) && l.Contains("answers again", StringComparison.Ordinal));

            // Redis came back empty (no persistence): a new window, counted by both replicas again.
            Assert.True(againOnA!.Value.Taken);
            Assert.True(againOnB!.Value.Taken);
            Assert.False(overOnA!.Value.Taken);
            Assert.Equal("""{"state":"connected","limits":"shared","outages":1}""", StatusSummary(a));
        }
    }

    [Fact]
    public async Task StartWithoutRedis_IsNoError_AnswersNothingAndWarnsOnce_ThenSharesOnceRedisIsThere()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        await server.KillAsync();
        await using RedisReplica a = await RedisReplica.StartAsync(server, RedisReplica.NewPrefix(), new FakeTimeProvider(), Ct);

        bool availableAtStart = a.Connection.IsAvailable;
        SharedTake? alone = await a.Windows.TryTakeAsync([new("calls", 1)], s_hour);
        string statusAlone = StatusSummary(a);
        await server.RestartAsync(Ct);
        await a.WaitUntilAvailableAsync(true, Ct);
        SharedTake? shared = await a.Windows.TryTakeAsync([new("calls", 1)], s_hour);

        Assert.False(availableAtStart);
        Assert.Null(alone);
        Assert.Equal("""{"state":"unavailable","limits":"per replica","outages":1}""", statusAlone);
        Assert.Equal(1, a.OutageWarnings);
        Assert.True(shared!.Value.Taken);
    }

    [Fact]
    public async Task SessionSlots_TotalLimit_CountsTheSessionsOfEveryReplica_ThenRefusesOnEach()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            SharedAdmission[] admitted =
            [
                await a.Slots.TryAdmitAsync(Slot("x", "10.0.0.1"), s_total3),
                await b.Slots.TryAdmitAsync(Slot("y", "10.0.0.2"), s_total3),
                await a.Slots.TryAdmitAsync(Slot("z"), s_total3),
            ];
            SharedAdmission overOnA = await a.Slots.TryAdmitAsync(Slot("w", "10.0.0.3"), s_total3);
            SharedAdmission overOnB = await b.Slots.TryAdmitAsync(Slot("w", "10.0.0.3"), s_total3);

            Assert.All(admitted, r => Assert.Equal(SharedAdmission.Admitted, r));
            Assert.Equal(SharedAdmission.OverTotal, overOnA);
            Assert.Equal(SharedAdmission.OverTotal, overOnB);
            Assert.Equal((2, 1), (a.Slots.Count, b.Slots.Count));
        }
    }

    [Fact]
    public async Task SessionSlots_PerAgentAndPerAddressLimits_HoldAcrossReplicas()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            var limits = new SessionLimitSettings { Total = 100, PerAgent = 2, PerClientAddress = 3 };

            SharedAdmission[] agentX = [await a.Slots.TryAdmitAsync(Slot("x", "10.0.0.1"), limits), await b.Slots.TryAdmitAsync(Slot("x", "10.0.0.2"), limits)];
            SharedAdmission thirdX = await a.Slots.TryAdmitAsync(Slot("x", "10.0.0.3"), limits);
            SharedAdmission[] address1 = [await b.Slots.TryAdmitAsync(Slot("y", "10.0.0.1"), limits), await a.Slots.TryAdmitAsync(Slot("z", "10.0.0.1"), limits)];
            SharedAdmission fourthAtAddress1 = await b.Slots.TryAdmitAsync(Slot("w", "10.0.0.1"), limits);
            SharedAdmission noAddress = await b.Slots.TryAdmitAsync(new SessionSlot(Guid.NewGuid().ToString("N"), "w", string.Empty), limits);

            Assert.All([.. agentX, .. address1, noAddress], r => Assert.Equal(SharedAdmission.Admitted, r));
            Assert.Equal(SharedAdmission.OverAgent, thirdX);
            Assert.Equal(SharedAdmission.OverAddress, fourthAtAddress1);
        }
    }

    [Fact]
    public async Task SessionSlots_Released_GiveTheirRoomBack_ToEveryReplica()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            SessionSlot[] held = [Slot("x"), Slot("y"), Slot("z")];
            foreach (SessionSlot slot in held)
            {
                Assert.Equal(SharedAdmission.Admitted, await a.Slots.TryAdmitAsync(slot, s_total3));
            }

            SharedAdmission full = await b.Slots.TryAdmitAsync(Slot("w"), s_total3);
            a.Slots.Release(held[1]);

            // The release went out on a's connection without waiting; a later command there is answered after it.
            await a.Connection.Database!.PingAsync();
            SharedAdmission afterRelease = await b.Slots.TryAdmitAsync(Slot("w"), s_total3);

            Assert.Equal(SharedAdmission.OverTotal, full);
            Assert.Equal(SharedAdmission.Admitted, afterRelease);
            Assert.Equal(2, a.Slots.Count);
        }
    }

    [Fact]
    public async Task SessionSlots_OfAReplicaThatDied_StopCountingAfterTheirLease_WhileALiveReplicasAreRenewed()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        var time = new FakeTimeProvider();
        (RedisReplica dying, RedisReplica living) = await TwoReplicasAsync(server, time);
        await using (living)
        {
            Assert.Equal(SharedAdmission.Admitted, await dying.Slots.TryAdmitAsync(Slot("x"), s_total3));
            Assert.Equal(SharedAdmission.Admitted, await dying.Slots.TryAdmitAsync(Slot("x"), s_total3));
            Assert.Equal(SharedAdmission.Admitted, await living.Slots.TryAdmitAsync(Slot("y"), s_total3));

            // Gone without a word: nothing released, nothing renewed from now on.
            await dying.DisposeAsync();
            var refusedWhileLeased = new List<SharedAdmission>();
            for (TimeSpan elapsed = TimeSpan.Zero; elapsed < RedisSessionSlotsLease; elapsed += RenewInterval)
            {
                refusedWhileLeased.Add(await living.Slots.TryAdmitAsync(Slot("y"), s_total3));
                Task renewed = living.NextRenewal();
                time.Advance(RenewInterval);
                await renewed;
            }

            SharedAdmission[] afterLease = [await living.Slots.TryAdmitAsync(Slot("y"), s_total3), await living.Slots.TryAdmitAsync(Slot("y"), s_total3)];
            SharedAdmission full = await living.Slots.TryAdmitAsync(Slot("y"), s_total3);

            Assert.All(refusedWhileLeased, r => Assert.Equal(SharedAdmission.OverTotal, r));
            Assert.All(afterLease, r => Assert.Equal(SharedAdmission.Admitted, r));

            // The living replica's first slot, a full lease old by now, still counts: renewed every interval.
            Assert.Equal(SharedAdmission.OverTotal, full);
        }
    }

    [Fact]
    public async Task SessionSlots_AdmittedAloneDuringAnOutage_AreCountedAgain_WhenRedisIsBack()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            Assert.Equal(SharedAdmission.Admitted, await a.Slots.TryAdmitAsync(Slot("x"), s_total3));

            await server.KillAsync();
            await a.WaitUntilAvailableAsync(false, Ct);
            SessionSlot alone = Slot("x");
            SharedAdmission duringOutage = await a.Slots.TryAdmitAsync(alone, s_total3);
            a.Slots.Track(alone);

            Task readded = a.NextRenewal(readd: true);
            await server.RestartAsync(Ct);
            await a.WaitUntilAvailableAsync(true, Ct);
            await readded;
            await b.WaitUntilAvailableAsync(true, Ct);
            SharedAdmission third = await b.Slots.TryAdmitAsync(Slot("y"), s_total3);
            SharedAdmission fourth = await b.Slots.TryAdmitAsync(Slot("y"), s_total3);

            Assert.Equal(SharedAdmission.Unavailable, duringOutage);

            // Redis came back empty; both of a's slots are counted there again.
            Assert.Equal(SharedAdmission.Admitted, third);
            Assert.Equal(SharedAdmission.OverTotal, fourth);
        }
    }

    [Fact]
    public async Task SessionState_WrittenByOneReplica_IsReadByAnother_WithItsTimeToLive_AndRemovedForAll()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            var state = new SharedSessionState("warning", ["gw://everything/a", "gw://memory/b"]);

            await a.States.SetAsync("fingerprint-1", state, TimeSpan.FromMinutes(30), Ct);
            SharedSessionState? read = await b.States.GetAsync("fingerprint-1", Ct);
            TimeSpan? ttl = await a.Connection.Database!.KeyTimeToLiveAsync(a.Connection.Key("session:fingerprint-1"));
            await b.States.RemoveAsync("fingerprint-1", Ct);
            SharedSessionState? afterRemove = await a.States.GetAsync("fingerprint-1", Ct);

            Assert.True(a.States.IsShared);
            Assert.Equal(state.LogLevel, read!.LogLevel);
            Assert.Equal(state.Subscriptions, read.Subscriptions);
            Assert.InRange(ttl!.Value, TimeSpan.FromTicks(1), TimeSpan.FromMinutes(30));
            Assert.Null(afterRemove);
            Assert.Null(await b.States.GetAsync("never-written", Ct));
        }
    }

    [Fact]
    public async Task SessionState_WhileRedisIsDown_IsKeptByTheReplica_AndIsNotAnError()
    {
        await using RedisServer server = await RedisServer.StartAsync(Ct);
        (RedisReplica a, RedisReplica b) = await TwoReplicasAsync(server, new FakeTimeProvider());
        await using (a)
        await using (b)
        {
            await server.KillAsync();
            await a.WaitUntilAvailableAsync(false, Ct);
            await b.WaitUntilAvailableAsync(false, Ct);

            await a.States.SetAsync("fingerprint-2", new SharedSessionState("debug", []), TimeSpan.FromMinutes(30), Ct);
            SharedSessionState? onA = await a.States.GetAsync("fingerprint-2", Ct);
            SharedSessionState? onB = await b.States.GetAsync("fingerprint-2", Ct);

            Assert.Equal("debug", onA!.LogLevel);
            Assert.Null(onB);
        }
    }

    [Fact]
    public async Task Password_InTheConfiguration_IsNeverLoggedOrShown_EvenWhenItIsWrong()
    {
        const string Password = "s3cret-Pa55word-for-redis";
        await using RedisServer server = await RedisServer.StartAsync(Ct, Password);
        var time = new FakeTimeProvider();
        await using RedisReplica right = await RedisReplica.StartAsync(server, RedisReplica.NewPrefix(), time, Ct);
        await using RedisReplica wrong = await RedisReplica.StartAsync(server, RedisReplica.NewPrefix(), time, Ct, configuration: server.Configuration.Replace(Password, Password + "-wrong", StringComparison.Ordinal));

        await right.WaitUntilAvailableAsync(true, Ct);
        await server.KillAsync();
        await right.WaitUntilAvailableAsync(false, Ct);

        Assert.False(wrong.Connection.IsAvailable);
        foreach (RedisReplica replica in (RedisReplica[])[right, wrong])
        {
            string shown = replica.Logs.All + Status(replica) + new RedisSettings { Configuration = server.Configuration }.ToString();
            Assert.DoesNotContain(Password, shown, StringComparison.Ordinal);
            Assert.Contains($"127.0.0.1:{server.Port}", shown, StringComparison.Ordinal);
        }
    }

    private static readonly TimeSpan RedisSessionSlotsLease = McpGateway.Scale.RedisSessionSlots.Lease;

    private static readonly TimeSpan RenewInterval = McpGateway.Scale.RedisSessionSlots.RenewInterval;

    private static SessionSlot Slot(string agent, string address = "") => new(Guid.NewGuid().ToString("N"), agent, address);

    private static async Task<(RedisReplica A, RedisReplica B)> TwoReplicasAsync(RedisServer server, TimeProvider time)
    {
        string prefix = RedisReplica.NewPrefix();
        RedisReplica a = await RedisReplica.StartAsync(server, prefix, time, Ct);
        RedisReplica b = await RedisReplica.StartAsync(server, prefix, time, Ct);
        await a.WaitUntilAvailableAsync(true, Ct);
        await b.WaitUntilAvailableAsync(true, Ct);
        return (a, b);
    }

    private static string Status(RedisReplica replica)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            replica.Connection.WriteStatus(writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string StatusSummary(RedisReplica replica)
    {
        using JsonDocument status = JsonDocument.Parse(Status(replica));
        JsonElement root = status.RootElement;
        return $$"""{"state":"{{root.GetProperty("state").GetString()}}","limits":"{{root.GetProperty("limits").GetString()}}","outages":{{root.GetProperty("outages").GetInt32()}}}""";
    }
}
