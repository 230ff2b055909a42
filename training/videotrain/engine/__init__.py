"""The training engine the compiler runs as a subprocess: `videotrain finetune` and `videotrain distill`
(see README.md in this directory for the config and the progress protocol)."""
