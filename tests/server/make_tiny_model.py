#!/usr/bin/env python3
"""Writes a tiny model directory for vLLM on CPU: config.json, a byte-level BPE tokenizer trained
here with the `tokenizers` package, and a chat template. There are no weights: serve it with
--load-format dummy. Nothing is downloaded.

usage: make_tiny_model.py OUT_DIR [--arch llama|deepseek_v3]

  llama        Llama-style, 4 layers, hidden 64 (the default).
  deepseek_v3  DeepseekV3ForCausalLM: 3 layers (1 dense + 2 MoE with 8 routed experts, 1 shared,
               top-2 of 2 groups, sigmoid scoring with a correction bias, as in DeepSeek-V3),
               q/kv LoRA ranks, rope + nope head dims; DeepSeek's special tokens, <think>/</think>
               and an R1-style chat template whose generation prompt ends with "<think>\\n"
               (chat_template_kwargs {"thinking": false} closes the thought instead).
               vLLM's CPU backend has no MLA kernel: serve it with VLLM_MLA_DISABLE=1, which runs
               the same weights through plain multi-head attention.
"""
import argparse, json, os
from tokenizers import Tokenizer, AddedToken, models, trainers, pre_tokenizers, decoders

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--arch", choices=["llama", "deepseek_v3"], default="llama")
args = ap.parse_args()
out = args.out
os.makedirs(out, exist_ok=True)
corpus = ["The quick brown fox jumps over the lazy dog. " * 3, "DeepSeek serves large models on two nodes with Ray and vLLM.",
          "Hello, how are you? I am fine, thank you.", "Shall I compare thee to a summer's day?"] * 50

if args.arch == "llama":
    bos, eos = "<|begin_of_text|>", "<|end_of_text|>"
    special = [bos, eos, "<|user|>", "<|assistant|>", "<|system|>"]
    plain_added = []
    template = ("{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}"
                "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")
else:
    bos, eos = "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"
    user, assistant = "<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>"
    special = [bos, eos, user, assistant]
    plain_added = ["<think>", "</think>"]  # ordinary added tokens, as in DeepSeek-R1's tokenizer
    template = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}{% endif %}{% endfor %}"
                "{% for m in messages %}"
                "{% if m['role'] == 'user' %}{{ '" + user + "' + m['content'] }}"
                "{% elif m['role'] == 'assistant' %}{% set c = m['content'] %}"
                "{% if '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}"
                "{{ '" + assistant + "' + c + '" + eos + "' }}{% endif %}{% endfor %}"
                "{% if add_generation_prompt %}{{ '" + assistant + "' }}"
                "{% if thinking is defined and not thinking %}{{ '</think>' }}{% else %}{{ '<think>\\n' }}{% endif %}{% endif %}")

tok = Tokenizer(models.BPE(unk_token=None))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(corpus, trainer)
if plain_added:
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in plain_added])
tok.save(os.path.join(out, "tokenizer.json"))
vocab = tok.get_vocab_size()
json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": bos, "eos_token": eos,
           "chat_template": template, "model_max_length": 2048, "clean_up_tokenization_spaces": False},
          open(os.path.join(out, "tokenizer_config.json"), "w"), indent=1)
json.dump({"bos_token": bos, "eos_token": eos}, open(os.path.join(out, "special_tokens_map.json"), "w"))
common = {"vocab_size": vocab, "max_position_embeddings": 2048, "torch_dtype": "bfloat16",
          "bos_token_id": tok.token_to_id(bos), "eos_token_id": tok.token_to_id(eos),
          "tie_word_embeddings": False, "hidden_act": "silu", "rope_theta": 10000.0}
if args.arch == "llama":
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
           "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
           "rms_norm_eps": 1e-5, **common}
else:
    cfg = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": 64,
           "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 3, "first_k_dense_replace": 1,
           "moe_layer_freq": 1, "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2,
           "n_group": 2, "topk_group": 1, "topk_method": "noaux_tc", "scoring_func": "sigmoid",
           "norm_topk_prob": True, "routed_scaling_factor": 2.5, "num_attention_heads": 4, "num_key_value_heads": 4,
           "q_lora_rank": 32, "kv_lora_rank": 32, "qk_nope_head_dim": 24, "qk_rope_head_dim": 8, "v_head_dim": 32,
           "attention_bias": False, "attention_dropout": 0.0, "rms_norm_eps": 1e-6, "num_nextn_predict_layers": 0,
           "ep_size": 1, "rope_scaling": None, **common}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
json.dump({"bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"]}, open(os.path.join(out, "generation_config.json"), "w"))
print("arch", args.arch, "vocab", vocab)
