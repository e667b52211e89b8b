"""The local stack: moto's server plus an emulation of Lambda's SQS event source mappings."""
