"""The private protobuf layer: the schema loaded at import (`schema`) and conversions to and
from the public dataclasses (`convert`). Nothing outside this subpackage sees a message."""
