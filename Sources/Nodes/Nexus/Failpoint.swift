import Foundation

/// Named points where a test makes the Nexus SIGKILL itself (`SPIKE_NEXUS_FAILPOINT=<name>`):
/// how the crash tests stop a real process at an exact step of a rotation. Unset, a failpoint
/// costs a dictionary lookup done once.
enum Failpoint: String, Sendable {
    case rotationBeforeCommit = "rotation-before-commit"
    case rotationAfterCommit = "rotation-after-commit"
    case rotationBeforeCompletion = "rotation-before-completion"

    private static let armed = ProcessInfo.processInfo.environment["SPIKE_NEXUS_FAILPOINT"].flatMap(Failpoint.init(rawValue:))

    /// Ends the process at once, as SIGKILL does, when this failpoint is armed.
    func hit() {
        guard Self.armed == self else { return }
        FileHandle.standardError.write(Data("spike nexus: failpoint \(rawValue): SIGKILL\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
