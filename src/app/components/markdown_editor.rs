use crate::api::deploys::preview_markdown;
use crate::api::error_text;
use leptos::prelude::*;

/// A Markdown textarea with a live preview rendered by the server exactly as
/// the text will be stored (sanitised).
///
/// `rendered` is the stored HTML of `source`: shown until the text changes,
/// so the server renders the page without another request, and nothing on
/// the server waits for a preview. Once hydrated, each change asks the
/// server again; an answer to older text is dropped.
#[component]
pub fn MarkdownEditor(
    body: RwSignal<String>,
    /// The Markdown that `rendered` shows (the text as loaded).
    #[prop(into, optional)]
    source: String,
    /// Its stored HTML.
    #[prop(into, optional)]
    rendered: String,
    #[prop(into)] id: String,
    #[prop(into, default = "Details (Markdown)".to_string())] label: String,
) -> impl IntoView {
    let shown = body.with_untracked(|b| *b == source);
    let preview = RwSignal::new(Ok::<String, String>(if shown {
        rendered
    } else {
        String::new()
    }));
    let asked = StoredValue::new(0u64);
    // Effects run in the browser only.
    Effect::new(move |first: Option<()>| {
        let text = body.get();
        if first.is_none() && shown {
            return;
        }
        asked.update_value(|n| *n += 1);
        let ask = asked.get_value();
        leptos::task::spawn_local(async move {
            let answer = if text.trim().is_empty() {
                Ok(String::new())
            } else {
                preview_markdown(text).await.map_err(|e| error_text(&e))
            };
            if asked.get_value() == ask {
                preview.set(answer);
            }
        });
    });
    view! {
        <div class="md-editor">
            <div class="md-input">
                <label for=id.clone()>{label}</label>
                <textarea
                    id=id
                    rows="8"
                    prop:value=move || body.get()
                    on:input=move |ev| body.set(event_target_value(&ev))
                ></textarea>
            </div>
            <div class="md-preview">
                <span class="label">"Preview"</span>
                {move || match preview.get() {
                    Ok(html) if html.is_empty() => view! { <div class="prose muted" data-testid="preview">"Nothing to preview yet."</div> }.into_any(),
                    Ok(html) => view! { <div class="prose" data-testid="preview" inner_html=html></div> }.into_any(),
                    Err(e) => view! { <div class="alert alert-error">{e}</div> }.into_any(),
                }}
            </div>
        </div>
    }
}
