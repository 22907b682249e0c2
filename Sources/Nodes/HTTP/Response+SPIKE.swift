import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SpikeAPI

/// The responses of SPIKE's API: JSON ones carry SPIKE's no-cache headers (reference §2.1).
extension Response {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        // Encoding the plain response structs of the API cannot fail.
        json(body: ByteBuffer(bytes: try! encoder.encode(value)), status: status)
    }

    /// A body that is JSON already.
    static func json(body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: jsonHeaders, body: ResponseBody(byteBuffer: body))
    }

    private static let jsonHeaders: HTTPFields = [
        .contentType: "application/json",
        .cacheControl: "no-store, no-cache, must-revalidate, private",
        HTTPField.Name("Pragma")!: "no-cache",
        .expires: "0",
    ]

    /// A failure's body in its route's shape: SPIKE's `{"err":"code"}` (ADR-0030).
    static func failure(_ failure: APIFailure) -> Response {
        let body: any Encodable & Sendable = failure.route?.errorBody(failure.code) ?? APIErrorBody(failure.code)
        return json(body, status: failure.status)
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType, .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func bytes(_ bytes: some Sequence<UInt8>, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension Request {
    /// The route of a request to `path`: its `action` query value picks it.
    func route(at path: String) -> APIRoute? {
        APIRoute(path: path, action: uri.queryParameters["action"].map(String.init))
    }

    /// The body decoded as the route's JSON type; 400 (in the route's shape) when it is not one,
    /// 413 when it is over the server's limit.
    func decode<T: Decodable>(_ type: T.Type, for route: APIRoute? = nil, context: SPIFFERequestContext) async throws -> T {
        do {
            return try await decode(as: type, context: context)
        } catch let error as HTTPError where error.status == .badRequest {
            throw APIFailure(.badRequest, route: route)
        }
    }

    /// The whole body, up to the server's limit (413 beyond it).
    func bytes(context: SPIFFERequestContext) async throws -> ByteBuffer {
        var request = self
        return try await request.collectBody(upTo: context.maxUploadSize)
    }
}
