#!/usr/bin/env python3
"""Writes a tiny Llama-style model directory for vLLM on CPU: config.json (4 layers, hidden 64),
a byte-level BPE tokenizer trained here with the `tokenizers` package, and a chat template.
There are no weights: serve it with --load-format dummy. Nothing is downloaded.

usage: make_tiny_model.py OUT_DIR
"""
import json, os, sys
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders, processors
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
corpus = ["The quick brown fox jumps over the lazy dog. " * 3, "DeepSeek serves large models on two nodes with Ray and vLLM.",
          "Hello, how are you? I am fine, thank you.", "Shall I compare thee to a summer's day?"] * 50
tok = Tokenizer(models.BPE(unk_token=None))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
special = ["<|begin_of_text|>", "<|end_of_text|>", "<|user|>", "<|assistant|>", "<|system|>"]
trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(corpus, trainer)
tok.save(os.path.join(out, "tokenizer.json"))
vocab = tok.get_vocab_size()
template = ("{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")
json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
           "chat_template": template, "model_max_length": 2048, "clean_up_tokenization_spaces": False},
          open(os.path.join(out, "tokenizer_config.json"), "w"), indent=1)
json.dump({"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}, open(os.path.join(out, "special_tokens_map.json"), "w"))
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
       "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": vocab,
       "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "torch_dtype": "bfloat16",
       "bos_token_id": tok.token_to_id("<|begin_of_text|>"), "eos_token_id": tok.token_to_id("<|end_of_text|>"),
       "tie_word_embeddings": False, "hidden_act": "silu"}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
json.dump({"bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"]}, open(os.path.join(out, "generation_config.json"), "w"))
print("vocab", vocab)
