using System.Buffers;

namespace McpGateway.Diagnostics;

/// <summary>
/// A growable byte buffer on <see cref="ArrayPool{T}"/> that, unlike <see cref="ArrayBufferWriter{T}"/>, can be cut
/// back to an earlier length: a record that fails half-way through serialization is removed from the batch.
/// </summary>
internal sealed class PooledByteBuffer(int initialCapacity) : IBufferWriter<byte>, IDisposable
{
    private byte[] _array = ArrayPool<byte>.Shared.Rent(initialCapacity);
    private int _length;

    public int Length => _length;

    public int Capacity => _array.Length;

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _length);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _array.Length - _length);
        _length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_length);
    }

    public void Write(byte value)
    {
        Ensure(1);
        _array[_length++] = value;
    }

    /// <summary>Forgets everything after <paramref name="length"/>.</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _length);
        _length = length;
    }

    /// <summary>Empties the buffer; one that grew past <paramref name="keepCapacity"/> for a huge record goes back to the pool.</summary>
    public void Clear(int keepCapacity)
    {
        _length = 0;
        if (_array.Length > keepCapacity)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = ArrayPool<byte>.Shared.Rent(initialCapacity);
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_array);
        _array = [];
        _length = 0;
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_array.Length - _length >= needed)
        {
            return;
        }

        byte[] larger = ArrayPool<byte>.Shared.Rent(checked(Math.Max(_array.Length * 2, _length + needed)));
        WrittenSpan.CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = larger;
    }
}
