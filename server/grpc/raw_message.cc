#include "server/grpc/raw_message.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace eventbus {

absl::Status ParseRawMessage(const grpc::ByteBuffer& buffer,
                             std::string_view what,
                             google::protobuf::Message* message) {
  grpc::ByteBuffer shared(buffer);  // the same slices, referenced again
  grpc::ProtoBufferReader reader(&shared);
  if (reader.status().ok() && message->ParseFromZeroCopyStream(&reader)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(absl::string_view(what.data(), what.size()),
                   " is not a valid ", message->GetDescriptor()->full_name()));
}

grpc::ByteBuffer SerializeRawMessage(const google::protobuf::Message& message) {
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  // Fails only for a message over 2 GiB, which no response comes near.
  grpc::GenericSerialize<grpc::ProtoBufferWriter, google::protobuf::Message>(
      message, &buffer, &own_buffer);
  return buffer;
}

}  // namespace eventbus
