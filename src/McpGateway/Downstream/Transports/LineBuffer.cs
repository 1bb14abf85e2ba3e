using System.Buffers;
using System.Runtime.InteropServices;

namespace McpGateway.Downstream;

/// <summary>
/// The read buffer of a <see cref="JsonLineTransport"/>. Up to 1 MiB it is an array of the shared pool. Larger (a large
/// message being read, or one over the limit, which fills the buffer to the limit before it is known to be too long)
/// it is memory of its own, of exactly the size asked for, given back to the system the moment the buffer is replaced:
/// the pool would keep a large array cached per thread for good, a dropped array's pages stay with the GC, and malloc
/// keeps large blocks in its arenas once it has raised its mmap threshold (glibc does after the first free), so every
/// large message would leave the gateway that much larger. On Linux the pages are mapped (mmap) and unmapped at once.
/// </summary>
internal sealed partial class LineBuffer : IDisposable
{
    public const int LargestPooled = 1024 * 1024;

    private readonly byte[]? _array;
    private readonly NativeMemoryManager? _native;

    private LineBuffer(int bytes)
    {
        if (bytes <= LargestPooled)
        {
            _array = ArrayPool<byte>.Shared.Rent(bytes);
            Memory = _array;
        }
        else
        {
            _native = new NativeMemoryManager(bytes);
            Memory = _native.Memory;
        }
    }

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes (exactly that many when it is not pooled).</summary>
    public static LineBuffer Rent(int bytes) => new(bytes);

    public Memory<byte> Memory { get; }

    public Span<byte> Span => Memory.Span;

    public int Length => Memory.Length;

    /// <summary>True when the buffer is native memory (larger than <see cref="LargestPooled"/>).</summary>
    public bool IsNative => _native is not null;

    /// <summary>Gives the memory back. Call it only when no read into the buffer is pending.</summary>
    public void Dispose()
    {
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        ((IDisposable?)_native)?.Dispose();
    }

    private sealed unsafe class NativeMemoryManager(int length) : MemoryManager<byte>
    {
        private byte* _pointer = Allocate(length);

        public override Span<byte> GetSpan() => _pointer is null ? throw new ObjectDisposedException(nameof(LineBuffer)) : new Span<byte>(_pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (_pointer is not null)
            {
                Free(_pointer, length);
                _pointer = null;
            }
        }

        private static byte* Allocate(int length)
        {
            if (!OperatingSystem.IsLinux())
            {
                return (byte*)NativeMemory.Alloc((nuint)length);
            }

            nint mapped = Mmap(0, (nuint)length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            return mapped == -1 ? throw new OutOfMemoryException($"could not map {length} bytes (errno {Marshal.GetLastPInvokeError()})") : (byte*)mapped;
        }

        private static void Free(byte* pointer, int length)
        {
            if (!OperatingSystem.IsLinux())
            {
                NativeMemory.Free(pointer);
                return;
            }

            _ = Munmap((nint)pointer, (nuint)length);
        }
    }

    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int descriptor, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
