import CProcessControl
import Foundation

/// What `spike nexus` and `spike keeper` do to their own process before any key is in memory:
/// no core dump (a dump of either would hold the root key or a share), and memory locked so that
/// key material is never written to swap. `SPIKE_MEMORY_LOCK`: `auto` (the default: lock when
/// the process may, warn once when it may not), `required` (refuse to start without it), `off`.
enum HostHardening {
    enum MemoryLock: String { case auto, required, off }

    static func apply(to process: String, environment: [String: String]) throws {
        let dumps = spike_disable_core_dumps()
        guard dumps == 0 else { throw CommandFailure("\(process): cannot disable core dumps: \(String(cString: strerror(dumps)))") }
        let setting = environment["SPIKE_MEMORY_LOCK"].flatMap { $0.isEmpty ? nil : $0 } ?? MemoryLock.auto.rawValue
        guard let mode = MemoryLock(rawValue: setting) else {
            throw CommandFailure("SPIKE_MEMORY_LOCK is '\(setting)': use auto, required or off")
        }
        guard mode != .off else { return }
        let locked = spike_lock_memory()
        guard locked != 0 else { return }
        let why = "\(process): memory is not locked (\(String(cString: strerror(locked)))): key material could reach swap; "
            + "run it with CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK (systemd: LimitMEMLOCK=infinity)"
        guard mode == .auto else { throw CommandFailure(why + ", or set SPIKE_MEMORY_LOCK=auto to start anyway") }
        FileHandle.standardError.write(Data("warning: \(why)\n".utf8))
    }
}
