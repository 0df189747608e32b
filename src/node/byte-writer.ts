// the file sink's line buffer: a ByteWriter on node's Buffer, using its native string encoders

import { ByteWriter } from '../audit/canonical-bytes.js'

/** Buffer's native encoders without the argument juggling of `Buffer#write` (present since node 0.x). */
interface NativeBuffer extends Buffer {
  utf8Write(text: string, offset: number): number
  latin1Write(text: string, offset: number): number
}

/**
 * A {@link ByteWriter} on an unzeroed `Buffer`, with node's native encoders for long strings: what the file sink
 * assembles each group's lines in.
 *
 * @example
 * ```ts
 * const out = new BufferWriter(1 << 20)
 * chain.appendTo(event, out)
 * writeSync(fd, out.bytes, 0, out.length)
 * ```
 */
export class BufferWriter extends ByteWriter {
  protected override allocate(capacity: number): Uint8Array {
    return Buffer.allocUnsafe(capacity)
  }

  protected override encodeAt(text: string, at: number): number {
    const bytes = this.bytes as NativeBuffer
    return hasNativeWrites ? bytes.utf8Write(text, at) : bytes.write(text, at, 'utf8')
  }

  protected override encodeAsciiAt(text: string, at: number): number {
    const bytes = this.bytes as NativeBuffer
    return hasNativeWrites ? bytes.latin1Write(text, at) : bytes.write(text, at, 'latin1')
  }
}

const hasNativeWrites =
  typeof (Buffer.prototype as Partial<NativeBuffer>).utf8Write === 'function' &&
  typeof (Buffer.prototype as Partial<NativeBuffer>).latin1Write === 'function'
