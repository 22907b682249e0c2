import ArgumentParser
import Synchronization

/// The options every command that talks to the Nexus takes.
struct ClientOptions: ParsableArguments {
    @Flag(name: .long, help: "Print to stderr how long getting the identity, each request and the connection took.")
    var verbose = false

    /// Parsed before the command runs: the client (`NexusAPI`) reads it from there.
    mutating func validate() throws {
        if verbose { NexusAPI.verbose.store(true, ordering: .relaxed) }
    }
}
