/// SPIKE's codes-only errors (reference §2, SPIKE's ADR-0030): the `err` of an error body, the one
/// thing a client may branch on. The server answers them and the client reads them, as types.
public enum APIErrorCode: String, Codable, CaseIterable, Sendable {
    case badRequest = "api_bad_request"
    case internalError = "api_internal_error"
    case notFound = "api_not_found"
    case unauthorized = "access_unauthorized"
    case entityInvalid = "entity_invalid"
    case entityNotFound = "entity_not_found"
    case versionMismatch = "entity_version_mismatch"
    case passwordTooWeak = "password_too_weak"
    case alreadyInitialized = "state_already_initialized"
    case notReady = "state_not_ready"
    // This project's, for `spike recover`.
    /// No admin's wrap opens with the password offered (the attempt is in the log).
    case passwordIncorrect = "password_incorrect"
    /// Too many wrong passwords: wait as `Retry-After` says.
    case tooManyAttempts = "too_many_attempts"
    /// Recovery is for a sealed Nexus: this one holds its root key, or is not initialized.
    case notSealed = "state_not_sealed"
    /// `spike operator restore`: the shards do not combine to the root key (recorded; they are dropped).
    case shardsIncorrect = "shards_incorrect"
    /// `spike admin password add`: an admin of that name exists.
    case adminExists = "admin_exists"
    /// `spike admin password remove`: the last admin's password is the only way back.
    case lastAdmin = "admin_last"
    /// `spike operator rotate`: an admin's wrap cannot move to a new key (change that password once).
    case rotationImpossible = "rotation_impossible"
    /// The log's volume is full: nothing was written (not SPIKE's; HTTP 507).
    case storageFull = "storage_full"
    /// The log's store (PostgreSQL) cannot be reached: nothing was written; reads go on from
    /// memory, and the write may be retried (not SPIKE's; HTTP 503).
    case storeUnavailable = "store_unavailable"
}

/// An error body, `{"err":"code"}`; SPIKE's secret reads add `"data":null`.
public struct APIErrorBody: Codable, Sendable {
    public var err: String?

    public init(_ code: APIErrorCode) {
        err = code.rawValue
    }

    /// The code, when it is one this build knows.
    public var code: APIErrorCode? { err.flatMap(APIErrorCode.init(rawValue:)) }
}

extension APIRoute {
    /// The body of a failed answer on this route: `{"err":"code"}`; a secret read's carries
    /// `"data":null` too, as SPIKE's does.
    public func errorBody(_ code: APIErrorCode) -> any Encodable & Sendable {
        switch self {
        case .secretGet: SecretGetResponse(data: nil, err: code.rawValue)
        default: APIErrorBody(code)
        }
    }
}
