import ArgumentParser
import Foundation
import NexusCore
import NIOHTTP1
import SpikeAPI
import SpikeClient

/// `spike operator rotate`: a new root key for a serving Nexus.
struct RotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Replace the root key (superuser): new shares for the Keepers, every secret kept.",
        discussion: """
        Opens a new epoch with a new root key: every version key is re-wrapped under it in one
        transaction, every admin's password wraps it (no password needed), the Keepers are sent
        new shares, and once threshold of them hold theirs the old key opens nothing: its shares
        and the recovery files exported before stop working (export new ones). A crash at any
        point leaves a Nexus that unseals with the old key or the new one. Recorded as
        RootKeyRotated, then RootKeyRotationCompleted.
        """)

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try await NexusAPI.connect(as: .superuser)
        defer { api.close() }
        let response = try await api.post(.operatorRotate, EmptyRequest())
        switch (response.status.code, NexusAPI.errorCode(response)) {
        case (200, _):
            guard let rotated = try? JSONDecoder().decode(RotationResponse.self, from: Data(response.body)) else {
                throw CommandFailure("Failed to parse API response.")
            }
            print("rotated: epoch \(rotated.epoch) has a new root key; the Keepers are being sent their new shares")
            if rotated.recoveryFilesInvalidated {
                print("the recovery files exported before stop working once they hold them: run `spike operator recover` again")
            }
        case (_, .rotationImpossible):
            throw CommandFailure("the root key cannot be rotated yet: an admin's password wrap predates rotations; "
                + "change each such password once (`spike admin password change NAME`), then rotate")
        case (_, .tooManyAttempts):
            throw CommandFailure("a rotation is under way: its Keepers do not all hold their new shares yet; try again shortly")
        default:
            throw APIFailure.failure(response)
        }
    }
}
