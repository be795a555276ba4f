use crate::api::deploys::preview_markdown;
use leptos::prelude::*;

/// A Markdown textarea with a live preview rendered by the server exactly as
/// the entry will be stored (sanitised). The preview only updates once the
/// page is hydrated.
#[component]
pub fn MarkdownEditor(
    body: RwSignal<String>,
    #[prop(into)] id: String,
    #[prop(into, default = "Details (Markdown)".to_string())] label: String,
) -> impl IntoView {
    let preview = Resource::new(
        move || body.get(),
        |text| async move {
            if text.trim().is_empty() {
                Ok(String::new())
            } else {
                preview_markdown(text).await
            }
        },
    );
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
                <Transition fallback=|| view! { <div class="prose muted">"Rendering…"</div> }>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Ok(html) if html.is_empty() => view! { <div class="prose muted" data-testid="preview">"Nothing to preview yet."</div> }.into_any(),
                            Ok(html) => view! { <div class="prose" data-testid="preview" inner_html=html></div> }.into_any(),
                            Err(e) => view! { <div class="alert alert-error">{crate::api::error_text(&e)}</div> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </div>
    }
}
