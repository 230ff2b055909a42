// The few WASI functions that h264.wasm imports (worker/decoder/build.sh), for a
// host with no files, environment or exit: the decoder only ever needs the
// clock and, at most, to write a line to stderr. Everything else answers EBADF.
const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;

/** Thrown when the module calls exit(): its state is unusable afterwards. */
export class WasiExit extends Error {
  constructor(readonly code: number) {
    super(`the wasm module called exit(${code})`);
    this.name = "WasiExit";
  }
}

export function wasiImports(memory: () => WebAssembly.Memory): WebAssembly.Imports {
  const view = () => new DataView(memory().buffer);
  const notAvailable = () => ERRNO_BADF;
  const decoder = new TextDecoder();
  return {
    wasi_snapshot_preview1: {
      environ_sizes_get(countPtr: number, sizePtr: number): number {
        view().setUint32(countPtr, 0, true);
        view().setUint32(sizePtr, 0, true);
        return ERRNO_SUCCESS;
      },
      environ_get: () => ERRNO_SUCCESS,
      clock_time_get(_id: number, _precision: bigint, timePtr: number): number {
        view().setBigUint64(timePtr, BigInt(Math.round(Date.now() * 1e6)), true);
        return ERRNO_SUCCESS;
      },
      fd_write(fd: number, iovs: number, iovsLength: number, writtenPtr: number): number {
        if (fd !== 1 && fd !== 2) return ERRNO_BADF;
        const dv = view();
        let text = "";
        let written = 0;
        for (let i = 0; i < iovsLength; i++) {
          const ptr = dv.getUint32(iovs + 8 * i, true);
          const length = dv.getUint32(iovs + 8 * i + 4, true);
          text += decoder.decode(new Uint8Array(memory().buffer, ptr, length));
          written += length;
        }
        if (text.trim()) (fd === 1 ? console.log : console.error)(`h264.wasm: ${text.trimEnd()}`);
        dv.setUint32(writtenPtr, written, true);
        return ERRNO_SUCCESS;
      },
      fd_close: notAvailable,
      fd_fdstat_get: notAvailable,
      fd_fdstat_set_flags: notAvailable,
      fd_prestat_get: notAvailable,
      fd_prestat_dir_name: notAvailable,
      fd_read: notAvailable,
      fd_seek: notAvailable,
      path_open: notAvailable,
      proc_exit(code: number): never {
        throw new WasiExit(code);
      },
    },
  };
}
