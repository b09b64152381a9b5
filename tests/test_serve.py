"""The hub as people start it: `gridcast run` in a process of its own."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hub(tmp_path, *args, **env):
    port = free_port()
    environment = {
        "PATH": os.environ["PATH"],
        "GRIDCAST_DATA_DIR": str(tmp_path / "var"),
        "GRIDCAST_HTTP_PORT": str(port),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *(args or ("run",))],
        env=environment, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(url, process, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"hub exited early:\n{process.stdout.read()}")
        try:
            response = httpx.get(f"{url}/healthz", timeout=1)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("hub did not become healthy")


def stop(process) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    return output


def test_run_without_token_serves_health_and_metrics_then_stops_cleanly(tmp_path):
    process, url = start_hub(tmp_path)
    try:
        health = wait_healthy(url, process)
        assert health["status"] == "ok" and health["database"] == "ok"
        metrics = httpx.get(f"{url}/metrics").text
        assert 'gridcast_role_up{role="web"} 1.0' in metrics
        assert "gridcast_http_requests_total" in metrics
        # the active scheduler announces itself through its heartbeat
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not health["roles"].get("scheduler"):
            time.sleep(0.3)
            health = httpx.get(f"{url}/healthz").json()
        assert health["roles"] == {"scheduler": True, "web": True}
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "running without the Telegram bot" in output
    assert "Traceback" not in output
    assert (tmp_path / "var" / "gridcast.db").exists()


def test_second_scheduler_stands_by_while_the_first_leads(tmp_path):
    first, url = start_hub(tmp_path, "run")
    try:
        wait_healthy(url, first)
        second, _ = start_hub(tmp_path, "scheduler")
        time.sleep(3)
        assert second.poll() is None
        output = stop(second)
        assert "now the active scheduler" not in output
    finally:
        stop(first)


def test_bot_role_without_token_is_a_configuration_error(tmp_path):
    process, _ = start_hub(tmp_path, "bot")
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert output.strip().splitlines()[-1] == (
        "gridcast: configuration error: GRIDCAST_TELEGRAM_TOKEN: required to run the bot"
    )


def test_busy_port_is_reported_in_one_line(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        process, _ = start_hub(tmp_path, "web", GRIDCAST_HTTP_PORT=str(port))
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert output.strip().splitlines()[-1].startswith("gridcast: configuration error: GRIDCAST_HTTP_PORT: cannot listen")


async def test_run_with_token_talks_to_the_bot_api_and_never_logs_the_token(tmp_path, telegram, shared_audio_cache):
    import asyncio

    port = free_port()
    token = "123:SECRETsecret_token-value"
    env = {
        "PATH": os.environ["PATH"],
        "GRIDCAST_DATA_DIR": str(tmp_path / "var"),
        "GRIDCAST_AUDIO_CACHE_DIR": str(shared_audio_cache),
        "GRIDCAST_HTTP_PORT": str(port),
        "GRIDCAST_TELEGRAM_TOKEN": token,
        "GRIDCAST_TELEGRAM_API_URL": telegram.base_url,
        "GRIDCAST_LOG_LEVEL": "DEBUG",
    }
    subprocess.run([sys.executable, "-m", "cli", "demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await telegram.wait_for("getUpdates", timeout=30)
        resident = telegram.user(6001, "张阿姨", language_code="zh-hans")
        english = telegram.user(6002, "Liu", language_code="en")
        mark = len(telegram.calls)
        telegram.send_message(telegram.private(english), english, "/start")
        assert (await telegram.reply_to(6002, since=mark)).params["text"].startswith("Hello Liu")
        group = telegram.group(-1009, "南苑一网格群")
        mark = len(telegram.calls)
        telegram.send_message(group, resident, "/bind T1")
        assert (await telegram.reply_to(-1009, since=mark)).params["text"] == "只有网格员才能这样做。"
    finally:
        telegram.release_pollers()
        process.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
    assert process.returncode == 0, output
    assert "bot started (polling)" in output
    assert token not in output and "SECRETsecret" not in output


def test_a_token_the_bot_api_refuses_stops_the_bot_with_one_line(tmp_path):
    """401 on getMe: one line naming the setting, no traceback, nothing of the token (#12.7)."""
    import asyncio
    import threading

    from aiohttp import web

    token = "123456:AAunknownunknownunknownunknownunknown"
    port = free_port()
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def refuse(_request):
        return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)

    async def serve():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        process, _ = start_hub(tmp_path, "bot", GRIDCAST_TELEGRAM_TOKEN=token,
                               GRIDCAST_TELEGRAM_API_URL=f"http://127.0.0.1:{port}/bot")
        output, _ = process.communicate(timeout=60)
    finally:
        loop.call_soon_threadsafe(loop.stop)
    assert process.returncode != 0
    errors = [line for line in output.splitlines() if "GRIDCAST_TELEGRAM_TOKEN" in line]
    assert len(errors) == 1, output
    assert "GRIDCAST_TELEGRAM_TOKEN" in output and "GRIDCAST_TELEGRAM_API_URL" in output
    assert "Traceback" not in output
    assert token not in output and token.split(":")[1] not in output
