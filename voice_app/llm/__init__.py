"""Local language models: the ChatModel protocol, the embedded llama.cpp and the Ollama backends."""
