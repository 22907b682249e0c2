import Foundation
import Nodes
import Testing
import Yams

/// `docs/openapi.yaml` against the running Nexus: the document lists exactly the routes the
/// server has, each documented example request succeeds, and every answer (200, 400, 401)
/// validates against the schema the document gives for it.
@Suite struct OpenAPIContractTests {
    static var document: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return ((try? Yams.load(yaml: text)) as? [String: Any]) ?? [:]
    }

    /// (path, action) → the action's entry in `x-spike-actions`.
    static var actions: [String: [String: Any]] {
        var actions: [String: [String: Any]] = [:]
        for (path, item) in (document["paths"] as? [String: Any]) ?? [:] {
            let post = (item as? [String: Any])?["post"] as? [String: Any]
            for (action, entry) in (post?["x-spike-actions"] as? [String: Any]) ?? [:] {
                actions[path + "?" + action] = entry as? [String: Any]
            }
        }
        return actions
    }

    @Test func theDocumentListsExactlyTheServersRoutes() {
        #expect(!Self.document.isEmpty, "docs/openapi.yaml is missing or not YAML")
        #expect(Set(Self.actions.keys) == Set(DataAPI.routes.map { $0.path + "?" + $0.action }))
    }

    /// The order the examples run in: writes before reads, delete last.
    static let sequence = ["/v1/store/secrets?", "/v1/store/secrets?get", "/v1/store/secrets/metadata?get", "/v1/store/secrets?list",
                           "/v1/store/secrets?delete", "/v1/store/secrets?undelete", "/v1/store/secrets?destroy", "/v1/acl/policy?",
                           "/v1/acl/policy?get", "/v1/acl/policy?list", "/v1/cipher/encrypt?", "/v1/cipher/decrypt?", "/v1/acl/policy?delete",
                           "/v1/bootstrap/verify?"]

    @Test func everyAnswerMatchesItsSchema() async throws {
        #expect(Set(Self.sequence) == Set(Self.actions.keys), "the test must exercise every documented route")
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client("/spike/pilot/role/superuser")
            let bootstrap = try nexus.client("/spike/bootstrap")
            let stranger = try nexus.client("/workload/stranger")
            var lastEncrypted: String?
            for route in Self.sequence {
                let entry = try #require(Self.actions[route])
                let path = String(route.prefix { $0 != "?" })
                let action = String(route.drop { $0 != "?" }.dropFirst())
                let uri = action.isEmpty ? path : path + "?action=" + action
                var body = String(decoding: try JSONSerialization.data(withJSONObject: entry["example"] ?? [:]), as: UTF8.self)
                if route == "/v1/cipher/decrypt?", let lastEncrypted { body = lastEncrypted }
                if route == "/v1/bootstrap/verify?" { body = try nexus.bootstrapProof(Data("hello".utf8)) }
                let responses = try #require(entry["responses"] as? [String: Any])
                // Bootstrap verification is Bootstrap's alone; everything else the superuser may do.
                let caller = route == "/v1/bootstrap/verify?" ? bootstrap : admin
                for (client, request, status) in [(caller, body, 200), (caller, "{", 400), (stranger, body, 401)] {
                    let (code, answer) = try await nexus.post(client, uri, request)
                    #expect(code == status, "\(route) \(request) → \(code) \(answer)")
                    let schema = try #require(responses[String(status)] as? [String: Any], "\(route) documents no \(status)")
                    let problems = SchemaCheck(root: Self.document).problems(try JSONDecoder().decode(JSONValue.self, from: Data(answer.utf8)), schema)
                    #expect(problems.isEmpty, "\(route) \(status): \(problems) in \(answer)")
                }
                if route == "/v1/cipher/encrypt?" { lastEncrypted = try await nexus.post(admin, uri, body).1 }
            }
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=bogus", "{}") == (400, #"{"err":"api_bad_request"}"#))
        }
    }
}

/// A JSON value as decoded, without Foundation's number/boolean ambiguity.
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }
}

/// The part of JSON Schema the document uses: $ref, type (one or a list), properties,
/// required, additionalProperties (false or a schema), items, enum and const.
struct SchemaCheck {
    let root: [String: Any]

    func problems(_ value: JSONValue, _ schema: [String: Any], at location: String = "$") -> [String] {
        if let reference = schema["$ref"] as? String {
            let name = String(reference.split(separator: "/").last ?? "")
            let schemas = ((root["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
            guard let target = schemas[name] as? [String: Any] else { return ["\(location): unknown \(reference)"] }
            return problems(value, target, at: location)
        }
        let types = (schema["type"] as? [String]) ?? (schema["type"] as? String).map { [$0] } ?? []
        let actual: String = switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number(let number): number == number.rounded() ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
        if !types.isEmpty, !types.contains(actual), !(actual == "integer" && types.contains("number")) {
            return ["\(location): \(actual), not \(types)"]
        }
        var found: [String] = []
        if let allowed = schema["enum"] as? [String], case .string(let text) = value, !allowed.contains(text) {
            found.append("\(location): \(text) not in \(allowed)")
        }
        if let constant = schema["const"] as? Int, case .number(let number) = value, number != Double(constant) {
            found.append("\(location): \(number) is not \(constant)")
        }
        switch value {
        case .object(let members):
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            for name in (schema["required"] as? [String]) ?? [] where members[name] == nil { found.append("\(location).\(name): missing") }
            for (name, member) in members {
                if let property = properties[name] as? [String: Any] {
                    found += problems(member, property, at: "\(location).\(name)")
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    found += problems(member, additional, at: "\(location).\(name)")
                } else if schema["additionalProperties"] as? Bool == false {
                    found.append("\(location).\(name): not in the schema")
                }
            }
        case .array(let items):
            if let itemSchema = schema["items"] as? [String: Any] {
                for (index, item) in items.enumerated() { found += problems(item, itemSchema, at: "\(location)[\(index)]") }
            }
        default:
            break
        }
        return found
    }
}
