"""The WeCom (企业微信) channel: the self-built app's callback, app messages and group robots (deploy/wecom.md)."""
