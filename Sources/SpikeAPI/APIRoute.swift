/// One route of SPIKE's API (reference §2): a path and an `action` query value, every one a
/// `POST` with a JSON body. The server dispatches on it and the `spike` client sends it, so a
/// route is spelled once.
public enum APIRoute: String, CaseIterable, Sendable {
    case initialize = "/v1/auth/initialization?"
    case initializationCheck = "/v1/auth/initialization?check"
    case operatorRecover = "/v1/operator/recover?"
    /// `spike recover`: an admin's password for a sealed Nexus (this project's; SPIKE has none).
    case passwordRecover = "/v1/operator/recover?password"
    case operatorRestore = "/v1/operator/restore?"
    /// `spike operator rotate` (this project's): a new root key, the data kept.
    case operatorRotate = "/v1/operator/rotate?"
    /// `spike admin password …` (this project's): the admins whose passwords wrap the root key.
    case adminAdd = "/v1/operator/admins?add"
    case adminChange = "/v1/operator/admins?change"
    case adminRemove = "/v1/operator/admins?remove"
    case adminList = "/v1/operator/admins?list"
    case secretPut = "/v1/store/secrets?"
    case secretGet = "/v1/store/secrets?get"
    case secretDelete = "/v1/store/secrets?delete"
    case secretUndelete = "/v1/store/secrets?undelete"
    case secretDestroy = "/v1/store/secrets?destroy"
    case secretList = "/v1/store/secrets?list"
    case secretMetadata = "/v1/store/secrets/metadata?get"
    case policyPut = "/v1/acl/policy?"
    case policyGet = "/v1/acl/policy?get"
    case policyDelete = "/v1/acl/policy?delete"
    case policyList = "/v1/acl/policy?list"
    case encrypt = "/v1/cipher/encrypt?"
    case decrypt = "/v1/cipher/decrypt?"
    case bootstrapVerify = "/v1/bootstrap/verify?"

    /// The route of a request for `path` with `action` (nil or empty: none).
    public init?(path: String, action: String?) {
        // Looked up by path, then action: no `path?action` string built for every request.
        guard let route = Self.byPathAndAction[path]?[action ?? ""] else { return nil }
        self = route
    }

    private static let byPathAndAction: [String: [String: APIRoute]] = allCases.reduce(into: [:]) { table, route in
        table[route.path, default: [:]][route.action] = route
    }

    public var path: String { String(rawValue.prefix { $0 != "?" }) }
    public var action: String { String(rawValue.drop { $0 != "?" }.dropFirst()) }

    /// What a client puts in its request line: the path, and `?action=…` when there is one.
    public var target: String { action.isEmpty ? path : path + "?action=" + action }

    /// The routes of the data API, served once the Nexus holds its root key.
    public static let data: [APIRoute] = allCases.filter { !$0.isLifecycle }

    /// Served in any state: initialization and recovery.
    public var isLifecycle: Bool {
        switch self {
        case .initialize, .initializationCheck, .operatorRecover, .passwordRecover, .operatorRestore, .operatorRotate,
             .adminAdd, .adminChange, .adminRemove, .adminList: true
        default: false
        }
    }

    /// The cipher's routes: what a lite workload may use.
    public var isCipher: Bool { self == .encrypt || self == .decrypt }

    /// The operation's name in `AccessDenied` events and exports (stable).
    public var operation: String {
        switch self {
        case .initialize: "auth.initialize"
        case .initializationCheck: "auth.initialization.check"
        case .operatorRecover: "operator.recover"
        case .passwordRecover: "operator.recover.password"
        case .operatorRestore: "operator.restore"
        case .operatorRotate: "operator.rotate"
        case .adminAdd: "admin.password.add"
        case .adminChange: "admin.password.change"
        case .adminRemove: "admin.password.remove"
        case .adminList: "admin.password.list"
        case .secretPut: "secret.put"
        case .secretGet: "secret.get"
        case .secretDelete: "secret.delete"
        case .secretUndelete: "secret.undelete"
        case .secretDestroy: "secret.destroy"
        case .secretList: "secret.list"
        case .secretMetadata: "secret.metadata"
        case .policyPut: "policy.put"
        case .policyGet: "policy.get"
        case .policyDelete: "policy.delete"
        case .policyList: "policy.list"
        case .encrypt: "cipher.encrypt"
        case .decrypt: "cipher.decrypt"
        case .bootstrapVerify: "bootstrap.verify"
        }
    }
}
