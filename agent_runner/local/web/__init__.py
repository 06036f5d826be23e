"""The web view `agent-runner up` serves: executions live, one execution in full, actions."""

from agent_runner.local.web.server import WebSettings, WebView, WebViewError

__all__ = ["WebSettings", "WebView", "WebViewError"]
