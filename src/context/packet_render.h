// Pieces of a packet's rendering, so packing can measure each item as it adds it.
#pragma once

#include <string>

#include <strata/context/packet.h>

namespace strata::context::detail {

std::string render_markdown_header(const Packet& p);
std::string render_markdown_item(const PacketItem& item);
std::string render_json_item(const PacketItem& item);
std::string render_json(const Packet& p);

}  // namespace strata::context::detail
