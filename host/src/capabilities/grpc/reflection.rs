//! gRPC server reflection: the descriptors of a service, asked from the server that offers
//! it (reflection v1, else v1alpha, as grpcurl does), with the files they depend on.

use std::collections::HashSet;

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_reflect::prost_types::FileDescriptorProto;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// At most this many files are fetched for one service.
const MAX_FILES: usize = 500;

/// Why the descriptors could not be had.
#[derive(Debug)]
pub enum ReflectionError {
    /// The server offers no reflection service.
    Unsupported,
    /// The server does not know the service.
    UnknownService,
    /// The call failed (the server is down, the deadline passed…).
    Call(Status),
    /// The server sent descriptors that do not fit together.
    Invalid(String),
}

/// The descriptors of `service` (a full name such as `pkg.v1.Greeter`), with the
/// well-known types, from the server at the other end of `channel`.
pub async fn service_pool(
    channel: Channel,
    service: &str,
) -> Result<DescriptorPool, ReflectionError> {
    let files = match files_v1(channel.clone(), service).await {
        Err(status) if status.code() == Code::Unimplemented => {
            files_v1alpha(channel, service).await
        }
        other => other,
    };
    let files = files.map_err(|status| match status.code() {
        Code::Unimplemented => ReflectionError::Unsupported,
        Code::NotFound => ReflectionError::UnknownService,
        _ => ReflectionError::Call(status),
    })?;
    let mut pool = DescriptorPool::global();
    pool.add_file_descriptor_protos(files)
        .map_err(|e| ReflectionError::Invalid(e.to_string()))?;
    Ok(pool)
}

/// One reflection client per protocol version; the two differ only in their types.
macro_rules! fetch_files {
    ($name:ident, $version:ident) => {
        async fn $name(
            channel: Channel,
            service: &str,
        ) -> Result<Vec<FileDescriptorProto>, Status> {
            use tonic_reflection::pb::$version::ServerReflectionRequest;
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

            let request = |message| ServerReflectionRequest {
                host: String::new(),
                message_request: Some(message),
            };
            let (sender, receiver) = futures::channel::mpsc::unbounded();
            let _ = sender.unbounded_send(request(MessageRequest::FileContainingSymbol(
                service.to_string(),
            )));
            let mut responses = ServerReflectionClient::new(channel)
                .server_reflection_info(receiver)
                .await?
                .into_inner();
            let known = DescriptorPool::global();
            let mut files = Vec::new();
            let mut seen = HashSet::new();
            let mut asked = HashSet::new();
            let mut pending = 1;
            while pending > 0 {
                let Some(response) = responses.message().await? else {
                    break;
                };
                pending -= 1;
                let found = match response.message_response {
                    Some(MessageResponse::FileDescriptorResponse(found)) => found,
                    Some(MessageResponse::ErrorResponse(error)) => {
                        return Err(Status::new(
                            Code::from(error.error_code),
                            error.error_message,
                        ));
                    }
                    _ => return Err(Status::internal("unexpected reflection response")),
                };
                for bytes in found.file_descriptor_proto {
                    let file = FileDescriptorProto::decode(bytes.as_slice())
                        .map_err(|e| Status::internal(format!("bad file descriptor: {e}")))?;
                    if !seen.insert(file.name().to_string()) {
                        continue;
                    }
                    for dependency in &file.dependency {
                        let wanted = !seen.contains(dependency)
                            && known.get_file_by_name(dependency).is_none()
                            && asked.insert(dependency.clone());
                        if wanted {
                            let _ = sender.unbounded_send(request(MessageRequest::FileByFilename(
                                dependency.clone(),
                            )));
                            pending += 1;
                        }
                    }
                    files.push(file);
                    if files.len() > MAX_FILES {
                        return Err(Status::resource_exhausted("too many descriptor files"));
                    }
                }
            }
            Ok(files)
        }
    };
}

fetch_files!(files_v1, v1);
fetch_files!(files_v1alpha, v1alpha);
